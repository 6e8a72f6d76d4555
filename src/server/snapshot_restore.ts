// tetcdutl's `snapshot restore` and `migrate`: an etcd 3.4 snapshot (or tetcd's, which is the same
// format) or a stopped etcd member's bbolt db becomes a tetcd data dir that `tetcd` starts from, as
// etcd's restore builds an etcd data dir:
//   - the buckets converted record by record into LMDB (snap/etcd_buckets.ts), committed in batches;
//   - the members of the snapshot dropped and the --initial-cluster ones written, with this member's
//     ID and the cluster ID derived from the token as a new cluster's;
//   - the consistent index set to the number of members, and a fresh WAL that holds only a snapshot
//     marker at that index (term 1, every member a voter) and the hard state committing it: the
//     member restarts from it as from its own snapshot (server/bootstrap.ts), every member of the new
//     cluster from the same point.
// Anything that fails removes the data dir it created: nothing is left half-built.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { META_CONSISTENT_INDEX, META_MEMBER_ID, type Bucket } from '../backend/schema.ts';
import { BoltReader } from '../bbolt/reader.ts';
import { fromEtcd, id8 } from '../snap/etcd_buckets.ts';
import { verifySnapshotFile } from '../snap/etcd_file.ts';
import { RaftCluster } from '../membership/cluster.ts';
import { memberToJson } from '../membership/member.ts';
import { Wal } from '../wal/wal.ts';

export class RestoreError extends Error {}

export interface RestoreConfig {
  /** The snapshot file (restore) or the etcd member's member/snap/db (migrate). */
  dbPath: string;
  dataDir: string;
  name: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string[];
  /** Restore: accept a file without a trailer / with a wrong one. Migrate: a db has no trailer. */
  skipHashCheck: boolean;
  /** --wal-dir; default <data-dir>/member/wal. */
  walDir?: string | undefined;
  onProgress?: (phase: 'verify' | 'copy', done: number, total: number) => void;
}

export interface RestoreResult {
  memberId: bigint;
  clusterId: bigint;
  keys: number;
  consistentIndex: number;
}

/** Records between commits of the restore's batches (bounds the pending batch's memory). */
const BATCH_RECORDS = 10_000;
const BATCH_BYTES = 16 << 20;

export async function restoreSnapshot(cfg: RestoreConfig): Promise<RestoreResult> {
  if (existsSync(cfg.dataDir)) throw new RestoreError(`data-dir "${cfg.dataDir}" exists`);
  const walDir = cfg.walDir || join(cfg.dataDir, 'member', 'wal');
  if (cfg.walDir && existsSync(cfg.walDir)) throw new RestoreError(`wal-dir "${cfg.walDir}" exists`);
  const cluster = clusterOf(cfg);
  const me = cluster.memberByName(cfg.name)!;
  const dbSize = await verifySnapshotFile(cfg.dbPath, cfg.skipHashCheck, (d, t) =>
    cfg.onProgress?.('verify', d, t),
  );
  const reader = BoltReader.open(cfg.dbPath);
  if (reader.size > dbSize) {
    reader.close();
    throw new RestoreError(
      `snapshot file is truncated: ${dbSize} bytes of db, its meta page says ${reader.size}`,
    );
  }
  let backend: Backend | undefined;
  try {
    backend = Backend.open(join(cfg.dataDir, 'member', 'db'));
    const keys = await copyBuckets(reader, backend, (d) => cfg.onProgress?.('copy', d, reader.size));
    const members = cluster.members();
    const index = members.length;
    for (const m of members) backend.put('members', id8(m.id), Buffer.from(JSON.stringify(memberToJson(m))));
    cluster.attach(backend);
    backend.put('meta', META_MEMBER_ID, id8(me.id));
    backend.put('meta', META_CONSISTENT_INDEX, u64(index));
    await backend.close();
    backend = undefined;
    const { wal } = await Wal.open(walDir);
    const ids = members.map((m) => m.id);
    await wal.save({ term: 1, vote: 0n, commit: index }, [], {
      index,
      term: 1,
      confState: { voters: ids, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    });
    await wal.close();
    return { memberId: me.id, clusterId: cluster.clusterId, keys, consistentIndex: index };
  } catch (err) {
    await backend?.close().catch(() => undefined);
    rmSync(cfg.dataDir, { recursive: true, force: true });
    if (cfg.walDir) rmSync(cfg.walDir, { recursive: true, force: true });
    throw err;
  } finally {
    reader.close();
  }
}

/** The new cluster from --initial-cluster, checked as etcd's VerifyBootstrap checks it. */
function clusterOf(cfg: RestoreConfig): RaftCluster {
  checkUrls(cfg.initialAdvertisePeerUrls);
  checkUrls(
    cfg.initialCluster
      .split(',')
      .filter((p) => p !== '')
      .map((p) => p.slice(p.indexOf('=') + 1)),
  );
  let cluster: RaftCluster;
  try {
    cluster = RaftCluster.fromInitialCluster(cfg.initialCluster, cfg.initialClusterToken);
  } catch (err) {
    throw new RestoreError((err as Error).message);
  }
  const me = cluster.memberByName(cfg.name);
  if (!me)
    throw new RestoreError(`couldn't find local name "${cfg.name}" in the initial cluster configuration`);
  const why = advertiseMismatch(cfg.name, me.peerURLs, cfg.initialAdvertisePeerUrls);
  if (why) throw new RestoreError(why);
  return cluster;
}

/** etcd's types.NewURLs checks, with its messages (before anything else looks at the URLs). */
function checkUrls(urls: readonly string[]): void {
  if (urls.length === 0) throw new RestoreError('no valid URLs given');
  for (const raw of urls) {
    const u = raw.trim();
    const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/i.exec(u);
    const scheme = m?.[1]?.toLowerCase();
    if (!m || !['http', 'https', 'unix', 'unixs'].includes(scheme!)) {
      throw new RestoreError(`URL scheme must be http, https, unix, or unixs: ${u}`);
    }
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(m[2]!)) {
      throw new RestoreError(`URL address does not have the form "host:port": ${u}`);
    }
    if (m[3] !== '') throw new RestoreError(`URL must not contain a path: ${u}`);
  }
}

const goQuote = (a: readonly string[]) => `[${a.map((u) => JSON.stringify(u)).join(' ')}]`;

/**
 * etcd's advertiseMatchesCluster, with its messages: the advertised peer URLs must be the member's
 * in --initial-cluster (compared as strings: etcd also resolves host names before giving up).
 */
export function advertiseMismatch(
  name: string,
  clusterUrls: readonly string[],
  advertised: readonly string[],
): string | undefined {
  const a = [...advertised].sort();
  const b = [...clusterUrls].sort();
  let err: string | undefined;
  if (a.length !== b.length) err = `len(${goQuote(a)}) != len(${goQuote(b)})`;
  else {
    const i = a.findIndex((u, j) => u !== b[j]);
    if (i >= 0) err = `resolved urls: ${JSON.stringify(a[i])} != ${JSON.stringify(b[i])}`;
  }
  if (err === undefined) return undefined;
  const missing = b.filter((u) => !a.includes(u));
  if (missing.length > 0) {
    return `--initial-cluster has ${missing.map((u) => `${name}=${u}`).join(',')} but missing from --initial-advertise-peer-urls=${a.join(',')} (${err})`;
  }
  const extra = a.filter((u) => !b.includes(u));
  const umap = a.map((u) => `${name}=${u}`).join(',');
  return `--initial-advertise-peer-urls has ${extra.join(',')} but missing from --initial-cluster=${umap}`;
}

/**
 * Every record etcd's buckets hold, as tetcd stores it, except the members (replaced by the new
 * cluster's). Returns the number of records in the key bucket.
 */
async function copyBuckets(
  reader: BoltReader,
  backend: Backend,
  progress: (bytes: number) => void,
): Promise<number> {
  let keys = 0;
  let pending = 0;
  let bytes = 0;
  let copied = 0;
  for (const name of reader.bucketNames()) {
    const bucket = name.toString('latin1');
    if (bucket === 'members' || bucket === 'members_removed') continue;
    for (const [k, v] of reader.records(name)) {
      const rec = fromEtcd(bucket, k, v);
      if (!rec) continue;
      backend.put(rec[0] satisfies Bucket, rec[1], rec[2]);
      if (bucket === 'key') keys++;
      pending++;
      bytes += k.length + v.length;
      if (pending >= BATCH_RECORDS || bytes >= BATCH_BYTES) {
        copied += bytes;
        progress(copied);
        pending = 0;
        bytes = 0;
        await backend.commit();
      }
    }
  }
  await backend.commit();
  progress(reader.size);
  return keys;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
