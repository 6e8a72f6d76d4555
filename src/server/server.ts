// A tetcd member: wires the backend, the MVCC store, the lessor and the raft node (raft_node.ts) together
// and serves the KV commands. Writes go through the log; linearizable reads wait for a ReadIndex
// barrier, then read locally; serializable reads are local.
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import type { Wal } from '../wal/wal.ts';
import { fromBigInt } from '../proto/index.ts';
import type { Proposer } from './propose.ts';
import { RaftCluster } from '../membership/cluster.ts';
import { openMember, type Booted } from './bootstrap.ts';
import { RaftNode, type RaftHost } from './raft_node.ts';
import { clusterServerOf } from './cluster_server.ts';
import type { ClusterServer } from '../membership/cluster_server.ts';
import { Op } from './raft_request.ts';
import { BackendApplier } from './apply/backend_applier.ts';
import { BatchCommitter } from '../backend/batch_committer.ts';
import { Lessor, MAX_LEASE_TTL } from '../lease/lessor.ts';
import { LeaseLoop } from '../lease/lease_loop.ts';
import { LeaseRenewals } from '../lease/lease_renew.ts';
import { WatchableStore } from '../mvcc/watchable_store.ts';
import { watchSource } from './watch_source.ts';
import { backendLeaseStore, loadLeases } from '../lease/lease_store.ts';
import { ErrLeaseNotFound, ErrLeaseTTLTooLarge, ErrNoLeader, ErrStopped } from './errors.ts';
import { LeaderForward } from './leader_forward.ts';
import { messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';
import { randomBytes } from 'node:crypto';
import { idHex } from '../pkg/ids.ts';
import { executeRange } from './txn/range.ts';
import { executeTxn, isTxnReadOnly } from './txn/txn.ts';
import { NO_LEASES, type WriteCtx, type WriteView } from './txn/kv_view.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Header,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb.ts';

export const SERVER_VERSION = '3.5.0';

export const CLUSTER_VERSION = '3.5.0';

export interface ServerConfig {
  name: string;
  dataDir: string;
  advertisePeerUrls: string[];
  initialClusterToken: string;
  maxTxnOps: number;
  maxRequestBytes: number;
  /** --watch-progress-notify-interval, ms (default 10 minutes). */
  watchProgressNotifyIntervalMs?: number;
  /** --election-timeout in ms (default 1000); the minimum lease TTL is ceil(1.5 x this) seconds. */
  electionTimeoutMs?: number;
  /** --heartbeat-interval in ms (default 100): one raft tick. */
  heartbeatMs?: number;
  advertiseClientUrls?: string[];
  /** --listen-peer-urls when given; a lone member without it opens no peer port. */
  listenPeerUrls?: string[];
  initialCluster?: string;
  initialClusterState?: 'new' | 'existing';
  preVote?: boolean;
  snapshotCount?: number;
  snapshotCatchupEntries?: number;
  /** This member was removed from the cluster (MemberRemove): the process should stop. */
  onRemoved?: () => void;
  logger: Logger;
  /** Called on a durability failure or a bug (an error not a ClientError while applying): the process must stop. */
  fatal(err: unknown): void;
}

export class EtcdServer {
  readonly memberId: bigint;
  private readonly memberIdLong;
  private appliedIndex = 0;
  private closed = false;
  readonly leaseLoop: LeaseLoop;
  private readonly renewals: LeaseRenewals;
  readonly watchable: WatchableStore;
  readonly raft: RaftNode;
  private readonly committer: BatchCommitter;

  /** Replaced when a snapshot from the leader replaces the backend (reload()). */
  private kvStore: KVStore;
  private clusterRef: RaftCluster;

  private constructor(
    readonly cfg: ServerConfig,
    readonly backend: Backend,
    kv: KVStore,
    private readonly wal: Wal,
    cluster: RaftCluster,
    readonly lessor: Lessor,
    memberId: bigint,
    booted: Booted,
  ) {
    this.kvStore = kv;
    this.clusterRef = cluster;
    this.committer = new BatchCommitter(backend, (err) => cfg.fatal(err));
    this.memberId = memberId;
    this.memberIdLong = fromBigInt(memberId, true);
    this.watchable = new WatchableStore(
      watchSource(() => this.kvStore, backend),
      (err) => cfg.fatal(err),
    );
    kv.onTxnEnd((events, rev) => this.watchable.notify(events, rev));
    this.leaseLoop = new LeaseLoop({
      lessor,
      revoke: (id) =>
        this.leaseRevoke(LeaseRevokePb.encode({ ID: fromBigInt(id) }).finish(), { ID: fromBigInt(id) }),
      checkpoint: (cps) => this.leaseCheckpoint(cps),
      log: cfg.logger,
    });
    this.raft = new RaftNode(this.raftHost(), booted, cfg);
    this.renewals = new LeaseRenewals({
      lessor,
      soleVoter: () => this.raft.driver.soleVoter(),
      checkpoint: (cps) => this.leaseCheckpoint(cps),
    });
    this.clusterServer = clusterServerOf({
      cluster: () => this.clusterRef,
      raft: this.raft,
      memberId,
      revision: () => this.kv.rev(),
    });
  }

  readonly clusterServer: ClusterServer;

  /** The current leader's ID (0 when unknown). */
  leader(): bigint {
    return this.raft.leader();
  }

  isLearner(): boolean {
    return this.raft.isLearner();
  }

  moveLeader(target: bigint): Promise<void> {
    return this.raft.moveLeader(target);
  }

  private readonly forward = new LeaderForward();

  /** A keep-alive answered by this member's lessor (it is the leader). */
  /**
   * For requests only the leader answers (lease keep-alive, time-to-live): undefined when this member
   * is the leader and answers itself; otherwise the leader's response to `raw` on gRPC `path`.
   * Waits up to the request timeout for a leader ("etcdserver: no leader" after that).
   */
  async forwardToLeader(path: string, raw: Uint8Array): Promise<Buffer | undefined> {
    const timeoutMs = 5000 + 2 * (this.cfg.electionTimeoutMs ?? 1000);
    const until = performance.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw new ErrStopped();
      const lead = this.raft.leader();
      if (lead === this.memberId) return undefined;
      const url = lead === 0n ? undefined : this.clusterRef.member(lead)?.clientURLs[0];
      if (url) return this.forward.call(url, path, raw, Math.max(100, until - performance.now()));
      if (performance.now() > until) throw new ErrNoLeader();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  get kv(): KVStore {
    return this.kvStore;
  }

  get cluster(): RaftCluster {
    return this.clusterRef;
  }

  get clusterId(): bigint {
    return this.clusterRef.clusterId;
  }

  private get proposer(): Proposer {
    return this.raft.proposer;
  }

  static async start(cfg: ServerConfig): Promise<EtcdServer> {
    const log = cfg.logger;
    const electionMs = cfg.electionTimeoutMs ?? 1000;
    const heartbeatMs = cfg.heartbeatMs ?? 100;
    const booted = await openMember({
      name: cfg.name,
      dataDir: cfg.dataDir,
      advertisePeerUrls: cfg.advertisePeerUrls,
      initialCluster: cfg.initialCluster ?? '',
      initialClusterState: cfg.initialClusterState ?? 'new',
      initialClusterToken: cfg.initialClusterToken,
      electionTicks: Math.max(2, Math.round(electionMs / heartbeatMs)),
      preVote: cfg.preVote ?? true,
      logger: log,
    });
    const { backend, kv } = booted;
    const lessor = new Lessor({
      now: () => performance.now(),
      minTtl: Math.ceil((1.5 * electionMs) / 1000),
      store: backendLeaseStore(backend),
    });
    for (const l of loadLeases(backend)) lessor.restore(l.id, l.ttl, l.remainingTtl);
    restoreAttachments(kv, lessor);
    const srv = new EtcdServer(cfg, backend, kv, booted.wal, booted.cluster, lessor, booted.memberId, booted);
    srv.appliedIndex = kv.consistentIndex();
    await srv.raft.start(heartbeatMs);
    srv.leaseLoop.start();
    log.info(
      {
        'local-member-id': idHex(srv.memberId),
        'cluster-id': idHex(srv.clusterId),
        term: srv.raft.term(),
        revision: kv.rev(),
        'applied-index': srv.appliedIndex,
      },
      'member ready',
    );
    srv.raft.publish(cfg.name, cfg.advertiseClientUrls ?? []);
    return srv;
  }

  /** What the raft node needs from the server: the apply path and the role hooks. */
  private raftHost(): RaftHost {
    return {
      applier: () => this.applier,
      applied: () => this.appliedIndex,
      setApplied: (i) => {
        this.appliedIndex = i;
      },
      commitBackend: () => this.committer.schedule(),
      kv: () => this.kvStore,
      lessor: this.lessor,
      cluster: () => this.clusterRef,
      beforeRestore: () => {
        // Revoking writes through to the lease bucket; the snapshot's import then overwrites it.
        for (const id of this.lessor.ids()) this.lessor.revoke(id);
      },
      reload: () => this.reload(),
    };
  }

  /** The backend now holds a snapshot from the leader: rebuild the stores over it. */
  private async reload(): Promise<void> {
    const oldRev = this.kvStore.rev();
    const kv = await KVStore.open(this.backend);
    kv.onTxnEnd((events, rev) => this.watchable.notify(events, rev));
    this.kvStore = kv;
    this.applierInstance = undefined;
    for (const l of loadLeases(this.backend)) this.lessor.restore(l.id, l.ttl, l.remainingTtl);
    restoreAttachments(kv, this.lessor);
    const cluster = RaftCluster.load(this.backend);
    if (cluster) this.clusterRef = cluster;
    this.appliedIndex = kv.consistentIndex();
    // Watchers learn what the snapshot skipped over as one batch read back from the key bucket.
    if (kv.rev() > oldRev && kv.compactRev() <= oldRev) {
      const src = watchSource(() => kv, this.backend);
      this.watchable.notify(await src.history(oldRev + 1, kv.rev()), kv.rev());
    }
  }

  private applierInstance: BackendApplier | undefined;
  private get applier(): BackendApplier {
    return (this.applierInstance ??= new BackendApplier(this.kv, this.lessor));
  }

  async leaseGrant(req: { TTL: Int64; ID: Int64 }): Promise<{ header: Header; ID: bigint; TTL: number }> {
    const ttl = toNumber(req.TTL);
    if (ttl > MAX_LEASE_TTL) throw new ErrLeaseTTLTooLarge();
    let id = toBigInt(req.ID);
    // The ID is chosen before proposing so that every member applies the same one.
    while (id === 0n || this.lessor.lookup(id)) id = randomBytes(8).readBigUInt64BE() >> 1n;
    const raw = LeaseGrantPb.encode({ TTL: ttl, ID: fromBigInt(id) }).finish();
    return this.proposer.propose(Op.LeaseGrant, raw, { TTL: ttl, ID: fromBigInt(id) });
  }

  leaseRevoke(raw: Uint8Array, req: { ID: Int64 }): Promise<{ header: Header }> {
    if (!this.lessor.lookup(toBigInt(req.ID))) return Promise.reject(new ErrLeaseNotFound());
    return this.proposer.propose(Op.LeaseRevoke, raw, req);
  }

  /**
   * Leader only (followers forward keep-alives): restarts the lease's TTL and returns it once the log
   * holds the renewal (server/lease_renew.ts), undefined for an unknown lease.
   */
  leaseRenew(id: bigint): number | undefined | Promise<number | undefined> {
    return this.renewals.renew(id);
  }

  private leaseCheckpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown> {
    const msg = { checkpoints: cps.map((c) => ({ ID: fromBigInt(c.id), remaining_TTL: c.remainingTtl })) };
    return this.proposer.propose(Op.LeaseCheckpoint, LeaseCheckpointPb.encode(msg).finish(), msg);
  }

  /** Fills the member-level fields of a response header. */
  header(h: Header): Header {
    h.clusterId = fromBigInt(this.cluster.clusterId, true);
    h.memberId = this.memberIdLong;
    h.raftTerm = this.raft.term();
    return h;
  }

  term(): number {
    return this.raft.term();
  }

  committedIndex(): number {
    return this.raft.committedIndex();
  }

  applied(): number {
    return this.appliedIndex;
  }

  /** Resolves when a local read is linearizable (ReadIndex; at once for a lone voter that leads). */
  linearizableBarrier(): Promise<void> | undefined {
    return this.raft.readBarrier();
  }

  /** A local read; linearizable callers pass linearizableBarrier() first (api/grpc/kv.ts does). */
  range(req: RangeRequest): RangeResponse {
    const txn = this.kv.read();
    try {
      return executeRange(txn, req);
    } finally {
      txn.end();
    }
  }

  put(raw: Uint8Array, req: PutRequest): Promise<PutResponse> {
    return this.proposer.propose(Op.Put, raw, req);
  }

  deleteRange(raw: Uint8Array, req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    return this.proposer.propose(Op.DeleteRange, raw, req);
  }

  txn(raw: Uint8Array, req: TxnRequest): Promise<TxnResponse> | TxnResponse {
    if (!isTxnReadOnly(req)) return this.proposer.propose(Op.Txn, raw, req);
    const barrier = this.raft.readBarrier();
    if (barrier) return barrier.then(() => this.readOnlyTxn(req));
    return this.readOnlyTxn(req);
  }

  private readOnlyTxn(req: TxnRequest): TxnResponse {
    const txn = this.kv.read();
    try {
      // A read-only txn runs on a read view shaped like a write txn that never writes.
      const view = txn as unknown as WriteView;
      const ctx: WriteCtx = { view, beginRev: this.kv.rev(), changes: 0 };
      return executeTxn(ctx, req, NO_LEASES);
    } finally {
      txn.end();
    }
  }

  compact(raw: Uint8Array, req: CompactionRequest): Promise<{ header: Header }> {
    return this.proposer.propose(Op.Compaction, raw, req);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The leader hands over first so the cluster does not wait an election timeout (etcd does too).
    await this.raft.transferBeforeStop();
    this.leaseLoop.close();
    this.committer.close();
    this.watchable.close();
    await this.raft.stop();
    this.forward.close();
    this.proposer.failAll(new ErrStopped());
    await this.backend.commit();
    await this.backend.close();
    await this.wal.close();
  }

  dataDir(): string {
    return this.cfg.dataDir;
  }
}

const LeaseGrantPb = messageType('etcdserverpb.LeaseGrantRequest');
const LeaseRevokePb = messageType('etcdserverpb.LeaseRevokeRequest');
const LeaseCheckpointPb = messageType('etcdserverpb.LeaseCheckpointRequest');

/** After a restart the lessor learns again which keys hang on which lease. */
function restoreAttachments(kv: KVStore, lessor: Lessor): void {
  const txn = kv.read();
  try {
    const all = txn.range(Buffer.from([0]), Buffer.from([0]), {});
    for (const e of all.kvs) if (e.lease !== 0n) lessor.attach(e.lease, e.key.toString('latin1'));
  } finally {
    txn.end();
  }
}
