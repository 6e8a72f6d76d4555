import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPort, isBboltFile, isEtcdWalFile } from './preflight.ts';

function withFile(bytes: number[], check: (path: string) => boolean): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-magic-'));
  try {
    const f = join(dir, 'f');
    writeFileSync(f, Buffer.from(bytes));
    return check(f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("an etcd WAL segment is told by its first record (crcType, 8-byte aligned), tetcd's own WAL is not", () => {
  // etcd 3.4's first record: length 4 with 4 bytes of padding flagged, walpb.Record{type: 4, crc: 0}.
  const etcd = [0x04, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x04, 0x10, 0x00, 0, 0, 0, 0];
  assert.equal(withFile(etcd, isEtcdWalFile), true);
  // tetcd's framing: [u32 length][u32 crc][type][payload] (from a tetcd data dir).
  const tetcd = [0x05, 0, 0, 0, 0x85, 0xc8, 0x37, 0xa5, 0x04, 0, 0, 0, 0, 0xa3, 0, 0];
  assert.equal(withFile(tetcd, isEtcdWalFile), false);
  assert.equal(withFile([], isEtcdWalFile), false);
  assert.equal(
    withFile(new Array<number>(64).fill(0), isEtcdWalFile),
    false,
    'a preallocated, unwritten segment',
  );
});

test("bbolt's meta page is told by its flags and magic; LMDB's data.mdb is not bbolt", () => {
  const page = new Array<number>(32).fill(0);
  page[8] = 0x04; // meta page
  [0xed, 0xda, 0x0c, 0xed].forEach((b, i) => (page[16 + i] = b)); // 0xED0CDAED, little endian
  assert.equal(withFile(page, isBboltFile), true);
  // The first 32 bytes of a tetcd data dir's member/db/data.mdb: P_META flags, MDB_MAGIC 0xBEEFC0DE.
  const lmdb = new Array<number>(32).fill(0);
  lmdb[0x12] = 0x08;
  [0xde, 0xc0, 0xef, 0xbe, 0x02].forEach((b, i) => (lmdb[0x18 + i] = b));
  assert.equal(withFile(lmdb, isBboltFile), false);
});

test('listen URLs bind the address they name, localhost as the IPv4 loopback, and keep port 80', () => {
  assert.deepEqual(hostPort('http://localhost:2379'), { host: '127.0.0.1', port: 2379 });
  assert.deepEqual(hostPort('http://[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(hostPort('http://0.0.0.0:2380/'), { host: '0.0.0.0', port: 2380 });
});
