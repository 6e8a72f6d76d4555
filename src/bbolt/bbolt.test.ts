import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pages, plan, type BucketSource } from './writer.ts';
import { BoltFormatError, BoltReader } from './reader.ts';
import { PAGE_SIZE } from './format.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-bbolt-'));
  dirs.push(d);
  return d;
}

function bucket(name: string, recs: [Buffer, Buffer][]): BucketSource {
  const sorted = [...recs].sort((a, b) => Buffer.compare(a[0], b[0]));
  return { name: Buffer.from(name), records: () => sorted };
}

function writeFile(path: string, buckets: BucketSource[], trailer = false): Buffer {
  const p = plan(buckets);
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  let n = 0;
  for (const b of pages(buckets, p)) {
    writeSync(fd, b);
    h.update(b);
    n += b.length;
  }
  if (trailer) writeSync(fd, h.copy().digest());
  closeSync(fd);
  assert.equal(n, p.size);
  return h.digest();
}

const keyOf = (i: number) => Buffer.from(`k${String(i).padStart(6, '0')}`);

test('a written file reads back: thousands of keys, values larger than a page, empty buckets', () => {
  const dir = tmp();
  const many: [Buffer, Buffer][] = [];
  for (let i = 0; i < 20000; i++) many.push([keyOf(i), Buffer.from(`value-${i}`.repeat(1 + (i % 7)))]);
  const big: [Buffer, Buffer][] = [
    [Buffer.from('a'), Buffer.alloc(3 * PAGE_SIZE + 17, 1)],
    [Buffer.from('b'), Buffer.from('small')],
    [Buffer.from('c'), Buffer.alloc(100_000, 2)],
  ];
  const buckets = [bucket('many', many), bucket('big', big), bucket('empty', [])];
  const path = join(dir, 'db');
  writeFile(path, buckets);
  const r = BoltReader.open(path);
  try {
    assert.deepEqual(r.bucketNames().map(String), ['big', 'empty', 'many']);
    const got = [...r.records('many')];
    assert.equal(got.length, many.length);
    got.forEach(([k, v], i) => {
      assert.ok(k.equals(many[i]![0]));
      assert.ok(v.equals(many[i]![1]));
    });
    const gotBig = [...r.records('big')];
    assert.equal(gotBig.length, 3);
    gotBig.forEach(([k, v], i) => {
      assert.ok(k.equals(big[i]![0]));
      assert.ok(v.equals(big[i]![1]));
    });
    assert.deepEqual([...r.records('empty')], []);
    assert.deepEqual([...r.records('absent')], []);
  } finally {
    r.close();
  }
});

test('a truncated file is refused with one clear error', () => {
  const dir = tmp();
  const path = join(dir, 'db');
  const recs: [Buffer, Buffer][] = [];
  for (let i = 0; i < 2000; i++) recs.push([keyOf(i), Buffer.alloc(100, 3)]);
  writeFile(path, [bucket('key', recs)]);
  const half = join(dir, 'half');
  writeFileSync(half, readFileSync(path).subarray(0, 8 * PAGE_SIZE));
  assert.throws(() => BoltReader.open(half), BoltFormatError);
  writeFileSync(half, Buffer.alloc(PAGE_SIZE * 2));
  assert.throws(() => BoltReader.open(half), /not a bbolt database/);
});

const ETCDCTL = '/usr/bin/etcdctl';

test('Go’s bbolt (etcdctl snapshot status) accepts the written file and counts what it holds', (t) => {
  if (!existsSync(ETCDCTL)) {
    t.skip('etcdctl not installed');
    console.error('SKIP: etcdctl 3.4 not installed');
    return;
  }
  const dir = tmp();
  const keyRecs: [Buffer, Buffer][] = [];
  for (let i = 1; i <= 20000; i++) {
    const rev = Buffer.alloc(17);
    rev.writeBigUInt64BE(BigInt(i), 0);
    rev[8] = 0x5f;
    keyRecs.push([rev, Buffer.alloc(i % 50 === 0 ? 9000 : 40, 7)]);
  }
  const buckets = [
    bucket('key', keyRecs),
    bucket('meta', [[Buffer.from('consistent_index'), Buffer.alloc(8)]]),
    bucket('alarm', []),
  ];
  const path = join(dir, 'snap.db');
  writeFile(path, buckets, true);
  const r = spawnSync(ETCDCTL, ['snapshot', 'status', path, '-w', 'json'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const st = JSON.parse(r.stdout) as { revision: number; totalKey: number; totalSize: number };
  assert.equal(st.revision, 20000);
  assert.equal(st.totalKey, 20001);
  assert.equal(st.totalSize, plan(buckets).size);
});
