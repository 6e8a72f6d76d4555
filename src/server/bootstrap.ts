// Opening a member's data: backend, MVCC store, WAL, the member set, and the raft storage rebuilt
// from the WAL (as etcd does: the WAL is the log; the raft MemoryStorage holds its in-memory copy). A brand-new
// member takes its identity from --initial-cluster; a restarted one from what it stored.
import type { PeerTls } from '../transport/transport.ts';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import { DEFAULT_MAX_FILES, Wal, walExists, type Entry as WalEntry, type WalContents } from '../wal/wal.ts';
import { RaftCluster, addMemberConfChange, removeMemberConfChange } from '../membership/cluster.ts';
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  emptyConfState,
  type Config,
  type ConfState,
  type RaftLogger,
} from '../raft/index.ts';
import { marshalConfChange, unmarshalConfChange } from '../raft/raftpb_codec.ts';
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
  /** --wal-dir; default <data-dir>/member/wal. */
  walDir?: string | undefined;
  /** --max-wals: WAL segment files kept (0: all). */
  maxWals?: number | undefined;
  /** --max-snapshots: snapshot data files kept (0: all). */
  maxSnapshots?: number | undefined;
  /** --force-new-cluster: a member with a WAL restarts as the only voter of its cluster. */
  forceNewCluster?: boolean | undefined;
  /** Peer TLS: a joining member asks https:// members over TLS. */
  peerTls?: PeerTls | undefined;
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

/** The WAL directory of a member: --wal-dir, or <data-dir>/member/wal as etcd's default. */
export function walDirOf(cfg: Pick<BootConfig, 'dataDir' | 'walDir'>): string {
  return cfg.walDir ? cfg.walDir : join(cfg.dataDir, 'member', 'wal');
}

/**
 * A member has one WAL. etcd 3.4 given --wal-dir ignores a WAL left in <data-dir>/member/wal and
 * starts a new one next to the old database; tetcd refuses instead, before creating anything.
 */
function checkWalDir(cfg: BootConfig, walDir: string): void {
  const inDataDir = join(cfg.dataDir, 'member', 'wal');
  if (!cfg.walDir || resolve(walDir) === resolve(inDataDir) || !walExists(inDataDir)) return;
  if (walExists(walDir)) {
    throw new BootstrapError(
      `both ${inDataDir} and --wal-dir ${walDir} hold a WAL; remove the one that is not this member's`,
    );
  }
  throw new BootstrapError(
    `the WAL of this member is in ${inDataDir}, not in --wal-dir ${walDir}; move its files to ${walDir} or start without --wal-dir`,
  );
}

export async function openMember(cfg: BootConfig): Promise<Booted> {
  const log = cfg.logger;
  const walDir = walDirOf(cfg);
  checkWalDir(cfg, walDir);
  const dbDir = join(cfg.dataDir, 'member', 'db');
  const hadDb = existsSync(dbDir);
  // Each phase of a start is logged with its duration (issue 16: where a restart's time goes).
  let t0 = performance.now();
  const phase = (msg: string, fields: Record<string, unknown> = {}) => {
    const now = performance.now();
    log.info({ ...fields, took: `${(now - t0).toFixed(0)}ms` }, msg);
    t0 = now;
  };
  const backend = Backend.open(dbDir);
  if (hadDb && !walExists(walDir) && backend.get('meta', META_MEMBER_ID)) {
    // The database says this member ran before, so its WAL is elsewhere: starting a new log here
    // would throw away its raft state.
    await backend.close();
    throw new BootstrapError(
      `${cfg.dataDir} holds a member's database but ${walDir} holds no WAL; start with the --wal-dir this member ran with`,
    );
  }
  phase('opened the backend', { path: backend.path, 'size-bytes': backend.size() });
  const opened = await Wal.open(walDir, { maxFiles: cfg.maxWals ?? DEFAULT_MAX_FILES });
  const wal = opened.wal;
  let contents = opened.contents;
  phase('read the WAL', { dir: walDir, entries: contents.entries.length });
  if (contents.repairedBytes > 0) {
    log.warn({ bytes: contents.repairedBytes }, 'repaired a torn write at the end of the WAL');
  }
  await recoverSnapshot(cfg.dataDir, backend, contents, log);
  // The backend now holds the state up to the snapshot: older WAL segments and snapshot files beyond
  // the retention counts may go (etcd's purge loop).
  const snapIndex = contents.snapshot?.index ?? 0;
  wal.releaseTo(snapIndex);
  new Snapshotter(snapDir(cfg.dataDir)).purge(cfg.maxSnapshots ?? DEFAULT_MAX_SNAPSHOTS, appliedOf(backend));
  const kv = await KVStore.open(backend);
  phase('rebuilt the key index', { keys: kv.keyCount(), revision: kv.rev() });
  const haveWal =
    contents.entries.length > 0 || contents.hardState.term > 0 || contents.snapshot !== undefined;
  const storedId = backend.get('meta', META_MEMBER_ID);
  let cluster = RaftCluster.load(backend);
  let memberId: bigint;
  let bootstrapPeers: Booted['bootstrapPeers'];
  if (haveWal && storedId && storedId.length === 8 && cluster) {
    memberId = storedId.readBigUInt64BE(0);
    if (cfg.forceNewCluster) {
      contents = await forceStandalone(cfg, wal, contents, cluster, memberId, appliedOf(backend));
    }
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
  const applied = appliedOf(backend);
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

/** etcd's --max-snapshots default. */
const DEFAULT_MAX_SNAPSHOTS = 5;

function appliedOf(backend: Backend): number {
  const ci = backend.get('meta', META_CONSISTENT_INDEX);
  return ci && ci.length === 8 ? Number(ci.readBigUInt64BE(0)) : 0;
}

/**
 * --force-new-cluster (etcd's restartAsStandaloneNode): the entries after the commit index are
 * dropped, and conf changes that remove every other member (and add this one, if the log had removed
 * it) are appended at the next indexes, written to the WAL and counted as committed. Raft then hands
 * them out with the rest of the committed log; once they apply this member is the only voter, with
 * its data and its cluster ID, and elects itself.
 */
async function forceStandalone(
  cfg: BootConfig,
  wal: Wal,
  contents: WalContents,
  cluster: RaftCluster,
  memberId: bigint,
  applied: number,
): Promise<WalContents> {
  const log = cfg.logger;
  const snap = contents.snapshot;
  const snapIndex = snap?.index ?? 0;
  // A change of the commit index alone is not written to the WAL (raft_node.ts): the backend's applied
  // index, which only committed entries reach, may be the newer word on what is committed.
  const hs = { ...contents.hardState, commit: Math.max(contents.hardState.commit, snapIndex, applied) };
  let entries = contents.entries.filter((e) => e.index > snapIndex);
  const uncommitted = entries.filter((e) => e.index > hs.commit).length;
  if (uncommitted > 0) {
    log.info(
      { 'commit-index-from-wal': hs.commit, 'number-of-discarded-entries': uncommitted },
      'discarding uncommitted WAL entries',
    );
    entries = entries.filter((e) => e.index <= hs.commit);
  }
  const ids = membersInLog(snap?.confState, entries, cluster);
  const changes = [];
  if (!ids.has(memberId)) {
    const me = cluster.member(memberId) ?? {
      id: memberId,
      name: cfg.name,
      peerURLs: [...cfg.advertisePeerUrls],
      clientURLs: [],
      isLearner: false,
    };
    changes.push(addMemberConfChange({ ...me, isLearner: false }));
  }
  for (const id of [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (id !== memberId) changes.push(removeMemberConfChange(id));
  }
  const last = entries.length > 0 ? entries[entries.length - 1]!.index : hs.commit;
  const added: WalEntry[] = changes.map((cc, i) => {
    const { type, data } = marshalConfChange(cc);
    return { index: last + 1 + i, term: hs.term, type, data };
  });
  if (added.length > 0) await wal.save(undefined, added);
  entries = [...entries, ...added];
  const commit = entries.length > 0 ? entries[entries.length - 1]!.index : hs.commit;
  log.info(
    {
      'cluster-id': idHex(cluster.clusterId),
      'local-member-id': idHex(memberId),
      'commit-index': commit,
      'removed-members': changes.filter((c) => c.nodeId !== memberId).map((c) => idHex(c.nodeId)),
    },
    'forcing restart member',
  );
  return { ...contents, hardState: { ...hs, commit }, entries };
}

/**
 * The members of the configuration the log ends with (etcd's getIDs): the snapshot's voters and
 * learners (the stored member set when an old marker has no ConfState), then the conf changes after it.
 * etcd 3.4 starts from the snapshot's voters only; a learner left there would stay a member.
 */
function membersInLog(
  confState: ConfState | undefined,
  entries: readonly WalEntry[],
  cluster: RaftCluster,
): Set<bigint> {
  const ids = new Set<bigint>(
    confState ? [...confState.voters, ...confState.learners] : cluster.members().map((m) => m.id),
  );
  for (const e of entries) {
    if (e.type !== EntryType.EntryConfChange && e.type !== EntryType.EntryConfChangeV2) continue;
    const cc = unmarshalConfChange(e.type, e.data);
    const singles = 'transition' in cc ? cc.changes : [cc];
    for (const c of singles) {
      if (c.type === ConfChangeType.ConfChangeRemoveNode) ids.delete(c.nodeId);
      else if (c.type !== ConfChangeType.ConfChangeUpdateNode) ids.add(c.nodeId);
    }
  }
  return ids;
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
