// Opening a member's data: backend, MVCC store, WAL, the member set, and the raft storage rebuilt
// from the WAL (as etcd does: the WAL is the log; the raft MemoryStorage holds its in-memory copy). A brand-new
// member takes its identity from --initial-cluster; a restarted one from what it stored.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import { Wal, type WalContents } from '../wal/wal.ts';
import { RaftCluster } from '../membership/cluster.ts';
import { MemoryStorage, emptyConfState, type Config, type RaftLogger } from '../raft/index.ts';
import { idHex } from '../pkg/ids.ts';
import { META_CONSISTENT_INDEX, META_MEMBER_ID } from '../backend/schema.ts';
import { importBackend } from '../snap/backend_snapshot.ts';
import { Snapshotter, snapDir } from '../snap/snapshotter.ts';
import { JoinError, joinExisting } from './join_existing.ts';

export interface BootConfig {
  name: string;
  dataDir: string;
  advertisePeerUrls: string[];
  /** "n1=http://a:2380,..."; empty means this member alone. */
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  electionTicks: number;
  preVote: boolean;
  logger: Logger;
}

export interface Booted {
  backend: Backend;
  kv: KVStore;
  wal: Wal;
  contents: WalContents;
  storage: MemoryStorage;
  cluster: RaftCluster;
  memberId: bigint;
  /** Set for a brand-new member of a new cluster: the initial voters to bootstrap raft with. */
  bootstrapPeers: { id: bigint; context: Uint8Array }[] | undefined;
  raftConfig: Config;
}

export class BootstrapError extends Error {}

/** Builds the --initial-cluster default ("<name>=<each advertised peer URL>"), like etcd. */
export function initialClusterOf(
  cfg: Pick<BootConfig, 'name' | 'advertisePeerUrls' | 'initialCluster'>,
): string {
  if (cfg.initialCluster) return cfg.initialCluster;
  return cfg.advertisePeerUrls.map((u) => `${cfg.name}=${u}`).join(',');
}

export async function openMember(cfg: BootConfig): Promise<Booted> {
  const log = cfg.logger;
  const backend = Backend.open(join(cfg.dataDir, 'member', 'db'));
  const { wal, contents } = await Wal.open(join(cfg.dataDir, 'member', 'wal'));
  if (contents.repairedBytes > 0) {
    log.warn({ bytes: contents.repairedBytes }, 'repaired a torn write at the end of the WAL');
  }
  await recoverSnapshot(cfg.dataDir, backend, contents, log);
  const kv = await KVStore.open(backend);
  const haveWal =
    contents.entries.length > 0 || contents.hardState.term > 0 || contents.snapshot !== undefined;
  const storedId = backend.get('meta', META_MEMBER_ID);
  let cluster = RaftCluster.load(backend);
  let memberId: bigint;
  let bootstrapPeers: Booted['bootstrapPeers'];
  if (haveWal && storedId && storedId.length === 8 && cluster) {
    memberId = storedId.readBigUInt64BE(0);
  } else {
    if (cfg.initialClusterState === 'existing' && !haveWal) {
      // Raft starts with an empty log and no peers: the leader's appends (or snapshot) bring the rest.
      const joined = await joinExisting(cfg).catch((e: unknown) => {
        throw e instanceof JoinError ? new BootstrapError(e.message) : e;
      });
      memberId = joined.memberId;
      cluster = joined.cluster;
      await persistIdentity(backend, cluster, memberId);
      log.info(
        { 'local-member-id': idHex(memberId), 'cluster-id': idHex(cluster.clusterId), from: joined.from },
        'joining an existing cluster',
      );
      return finish(cfg, backend, kv, wal, contents, cluster, memberId, undefined);
    }
    const fresh = RaftCluster.fromInitialCluster(initialClusterOf(cfg), cfg.initialClusterToken);
    const me = fresh.memberByName(cfg.name);
    if (!me) {
      throw new BootstrapError(`couldn't find local name "${cfg.name}" in the initial cluster configuration`);
    }
    const want = [...cfg.advertisePeerUrls].sort().join(',');
    if ([...me.peerURLs].sort().join(',') !== want) {
      throw new BootstrapError(
        `--initial-cluster has ${cfg.name}=${me.peerURLs.join(',')} but missing from --initial-advertise-peer-urls=${cfg.advertisePeerUrls.join(',')}`,
      );
    }
    memberId = me.id;
    cluster = fresh;
    await persistIdentity(backend, cluster, memberId);
    // A member whose WAL was written but whose backend lost the identity replays the log instead.
    if (!haveWal) bootstrapPeers = fresh.bootstrapPeers();
    log.info(
      {
        'local-member-id': idHex(memberId),
        'cluster-id': idHex(cluster.clusterId),
        members: fresh.members().length,
      },
      haveWal ? 'restarting member with recovered identity' : 'starting a new member of a new cluster',
    );
  }
  return finish(cfg, backend, kv, wal, contents, cluster, memberId, bootstrapPeers);
}

/** Stores the member ID and the member set; they must be on disk before the WAL says this member exists. */
async function persistIdentity(backend: Backend, cluster: RaftCluster, memberId: bigint): Promise<void> {
  cluster.attach(backend);
  const idBuf = Buffer.alloc(8);
  idBuf.writeBigUInt64BE(memberId);
  backend.put('meta', META_MEMBER_ID, idBuf);
  await backend.commit();
}

function finish(
  cfg: BootConfig,
  backend: Backend,
  kv: KVStore,
  wal: Wal,
  contents: WalContents,
  cluster: RaftCluster,
  memberId: bigint,
  bootstrapPeers: Booted['bootstrapPeers'],
): Booted {
  const log = cfg.logger;
  const storage = new MemoryStorage();
  const snapIndex = contents.snapshot?.index ?? 0;
  if (contents.snapshot) {
    storage.applySnapshot({
      data: new Uint8Array(0),
      metadata: {
        index: contents.snapshot.index,
        term: contents.snapshot.term,
        confState: contents.snapshot.confState ?? emptyConfState(),
      },
    });
  }
  if (contents.hardState.term > 0) {
    // A snapshot is of committed state: its index bounds the commit index from below (older WALs could
    // hold a marker written after a commit-only hard state that never reached the disk).
    storage.setHardState({ ...contents.hardState, commit: Math.max(contents.hardState.commit, snapIndex) });
  }
  const ents = contents.entries.filter((e) => e.index > snapIndex);
  if (ents.length > 0) {
    storage.append(ents.map((e) => ({ index: e.index, term: e.term, type: e.type ?? 0, data: e.data })));
  }
  const raftConfig: Config = {
    id: memberId,
    electionTick: cfg.electionTicks,
    heartbeatTick: 1,
    storage,
    // Everything after the snapshot is handed out again: raft must see its conf changes once more;
    // the applied index in the backend makes the rest no-ops.
    applied: snapIndex,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 512,
    maxUncommittedEntriesSize: 1 << 30,
    checkQuorum: true,
    preVote: cfg.preVote,
    rand: { intn: (n: number) => Math.floor(Math.random() * n) },
    logger: raftLogger(log),
  };
  return { backend, kv, wal, contents, storage, cluster, memberId, bootstrapPeers, raftConfig };
}

/**
 * A crash after the WAL recorded a received snapshot but before the backend held it: the WAL's log
 * starts after the snapshot, so the backend must take the snapshot's data (kept in a file) first.
 */
async function recoverSnapshot(
  dataDir: string,
  backend: Backend,
  contents: WalContents,
  log: Logger,
): Promise<void> {
  const snap = contents.snapshot;
  if (!snap) return;
  const ci = backend.get('meta', META_CONSISTENT_INDEX);
  const applied = ci && ci.length === 8 ? Number(ci.readBigUInt64BE(0)) : 0;
  if (applied >= snap.index) return;
  const data = new Snapshotter(snapDir(dataDir)).load(snap.index);
  if (!data) {
    throw new BootstrapError(
      `the backend is at index ${applied} but the WAL starts after snapshot ${snap.index} and its data file is missing`,
    );
  }
  log.warn(
    { 'snapshot-index': snap.index, 'backend-index': applied },
    'recovering the backend from a snapshot file',
  );
  importBackend(backend, data);
  await backend.sync();
}

function raftLogger(log: Logger): RaftLogger {
  const l = log.child({ component: 'raft' });
  return {
    debug: (m) => l.debug(m),
    info: (m) => l.info(m),
    warn: (m) => l.warn(m),
    error: (m) => l.error(m),
  };
}
