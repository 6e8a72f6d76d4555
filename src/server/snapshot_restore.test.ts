import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { META_CONSISTENT_INDEX, META_MEMBER_ID } from '../backend/schema.ts';
import { pages, plan, type BucketSource } from '../bbolt/writer.ts';
import { Wal } from '../wal/wal.ts';
import { RestoreError, restoreSnapshot, type RestoreConfig } from './snapshot_restore.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-restore-'));
  dirs.push(d);
  return d;
}

const rev = (main: number) => {
  const b = Buffer.alloc(17);
  b.writeBigUInt64BE(BigInt(main), 0);
  b[8] = 0x5f;
  return b;
};

/** An etcd-style snapshot file: a bbolt db with a key, a member of another cluster, and the sha256. */
function snapshotFile(dir: string): string {
  const buckets: BucketSource[] = [
    { name: Buffer.from('key'), records: () => [[rev(2), Buffer.from('kv-bytes')]] },
    {
      name: Buffer.from('members'),
      records: () => [[Buffer.from('abc'), Buffer.from('{"id":2748,"peerURLs":["http://old:2380"]}')]],
    },
    { name: Buffer.from('meta'), records: () => [[Buffer.from('consistent_index'), Buffer.alloc(8, 9)]] },
  ];
  const path = join(dir, 'snap.db');
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  for (const p of pages(buckets, plan(buckets))) {
    writeSync(fd, p);
    h.update(p);
  }
  writeSync(fd, h.digest());
  closeSync(fd);
  return path;
}

const PEERS = ['http://127.0.0.1:12380', 'http://127.0.0.1:22380', 'http://127.0.0.1:32380'];
function cfg(dbPath: string, dataDir: string, over: Partial<RestoreConfig> = {}): RestoreConfig {
  return {
    dbPath,
    dataDir,
    name: 'b',
    initialCluster: `a=${PEERS[0]},b=${PEERS[1]},c=${PEERS[2]}`,
    initialClusterToken: 'tok',
    initialAdvertisePeerUrls: [PEERS[1]!],
    skipHashCheck: false,
    ...over,
  };
}

test('restore builds a data dir: the keys, the new members, this member’s ID, and a WAL snapshot at the member count', async () => {
  const dir = tmp();
  const file = snapshotFile(dir);
  const data = join(dir, 'out');
  const r = await restoreSnapshot(cfg(file, data));
  assert.equal(r.keys, 1);
  assert.equal(r.consistentIndex, 3);
  const b = Backend.open(join(data, 'member', 'db'));
  try {
    assert.equal(b.get('key', rev(2))?.toString(), 'kv-bytes');
    assert.equal(b.get('meta', META_MEMBER_ID)?.readBigUInt64BE(0), r.memberId);
    assert.equal(b.get('meta', META_CONSISTENT_INDEX)?.readBigUInt64BE(0), 3n);
    const members: string[] = [];
    b.forEach('members', undefined, undefined, (_k, v) => void members.push(JSON.parse(v.toString()).name));
    assert.deepEqual(members.sort(), ['a', 'b', 'c'], 'the old cluster’s member is gone');
  } finally {
    await b.close();
  }
  const { wal, contents } = await Wal.open(join(data, 'member', 'wal'));
  try {
    assert.equal(contents.snapshot?.index, 3);
    assert.equal(contents.snapshot?.term, 1);
    assert.equal(contents.snapshot?.confState?.voters.length, 3);
    assert.equal(contents.hardState.commit, 3);
    assert.equal(contents.entries.length, 0);
  } finally {
    await wal.close();
  }
});

test('restore refuses, in etcd’s words, and leaves nothing: an existing data dir, a name not in the cluster, other peer URLs', async () => {
  const dir = tmp();
  const file = snapshotFile(dir);
  const existing = join(dir, 'exists');
  mkdirSync(existing);
  await assert.rejects(restoreSnapshot(cfg(file, existing)), { message: `data-dir "${existing}" exists` });
  const out = join(dir, 'out');
  await assert.rejects(
    restoreSnapshot(cfg(file, out, { name: 'zz' })),
    (e: unknown) => e instanceof RestoreError && /couldn't find local name "zz"/.test(e.message),
  );
  await assert.rejects(
    restoreSnapshot(cfg(file, out, { initialAdvertisePeerUrls: ['http://127.0.0.1:9'] })),
    RestoreError,
  );
  await assert.rejects(
    restoreSnapshot(cfg(file, out, { initialAdvertisePeerUrls: ['http://127.0.0.1:9'] })),
    {
      message: `--initial-cluster has b=${PEERS[1]} but missing from --initial-advertise-peer-urls=http://127.0.0.1:9 (resolved urls: "http://127.0.0.1:9" != "${PEERS[1]}")`,
    },
  );
  await assert.rejects(restoreSnapshot(cfg(file, out, { initialAdvertisePeerUrls: ['bad'] })), {
    message: 'URL scheme must be http, https, unix, or unixs: bad',
  });
  await assert.rejects(restoreSnapshot(cfg(file, out, { initialCluster: 'b=http://127.0.0.1' })), {
    message: 'URL address does not have the form "host:port": http://127.0.0.1',
  });
  assert.equal(existsSync(out), false);
});
