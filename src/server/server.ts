// A tetcd member (etcd's EtcdServer): opens the data (bootstrap.ts), builds the parts along etcd's seams
// and wires them together once, here, then starts and stops them:
//   stores.ts        the state machine (KV store, lessor, members, watchers) over the backend
//   raft_node.ts     the Ready loop; this file's ReadyHandler is the member's side of every Ready
//   apply/           applies committed entries; the only writer of the applied index
//   propose.ts       waiters of proposals; read_index.ts the ReadIndex barrier
//   peers.ts         the transport; leadership.ts role changes and leader transfer
//   snapshot.ts      raft snapshots (taking, sending, receiving)
//   kv_server.ts, lease_server.ts, cluster_server.ts   the commands behind api.ts's interfaces
// The client API sees the member only through api.ts's ClientApi, which this class implements.
import type { PeerTls } from '../transport/transport.ts';
import type { Logger } from 'pino';
import type { Wal } from '../wal/wal.ts';
import { fromBigInt, type Long } from '../proto/index.ts';
import type { Header } from '../proto/etcdserverpb.ts';
import { BatchCommitter } from '../backend/batch_committer.ts';
import { Lessor as LeaseStore } from '../lease/lessor.ts';
import { backendLeaseStore } from '../lease/lease_store.ts';
import type { WatchableStore } from '../mvcc/watchable_store.ts';
import { encodeAttributes } from '../membership/member.ts';
import { Snapshotter, snapDir } from '../snap/snapshotter.ts';
import type { Entry, Snapshot } from '../raft/index.ts';
import { idHex } from '../pkg/ids.ts';
import type { ApiLimits, ClientApi, Cluster, Maintenance } from './api.ts';
import { openMember, type Booted } from './bootstrap.ts';
import { Stores } from './stores.ts';
import { RaftNode, type ReadyHandler } from './raft_node.ts';
import { Proposer } from './propose.ts';
import { ReadIndexer } from './read_index.ts';
import { SnapshotPolicy } from './snapshot.ts';
import { Peers } from './peers.ts';
import { Leadership } from './leadership.ts';
import { EntryApplier } from './apply/entry_applier.ts';
import { KVServer } from './kv_server.ts';
import { LeaseServer } from './lease_server.ts';
import { clusterServerOf } from './cluster_server.ts';
import { LeaderForward } from './leader_forward.ts';
import { advanceInitialTicks } from './tick_advance.ts';
import { Op } from './raft_request.ts';
import { memberSource, raftStatusJson } from './member_metrics.ts';
import { bindMember, bindPeers, setVersion } from '../pkg/metrics.ts';
import { currentKv, memberMaintenance } from './maintenance_server.ts';
import { corruptCheckDeps, hashKVAnswer } from './corrupt_peers.ts';
import { checkInitialHashKV, monitorKVHash } from './corrupt.ts';
import { SERVER_VERSION } from '../pkg/version.ts';
import { ErrNoLeader, ErrStopped } from './errors.ts';
import { logQuota, Quota, QuotaGate, quotaBytes } from './quota.ts';
import { messageType } from '../proto/index.ts';
import { newCompactor, parseCompactionRetention, type Compactor } from './compactor.ts';
import { StateType } from '../raft/index.ts';
import { AuthStore, type AuthInfo } from '../auth/store.ts';
import { newTokenProvider, type TokenProvider } from '../auth/token.ts';

/** A bad --auth-token: the CLI refuses to start with its one line. */
export { AuthOptionError } from '../auth/token.ts';
import { AuthServer } from './auth_server.ts';
import { ApplyWait } from './apply_wait.ts';
import { parseGoDuration } from './compactor.ts';

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
  /** Peer TLS (--peer-cert-file, ...): https:// peer URLs are served and dialed with it. */
  peerTls?: PeerTls;
  initialCluster?: string;
  initialClusterState?: 'new' | 'existing';
  preVote?: boolean;
  snapshotCount?: number;
  snapshotCatchupEntries?: number;
  /** --wal-dir: the WAL in a directory of its own (default: <data-dir>/member/wal). */
  walDir?: string;
  /** --max-snapshots: snapshot files to keep (0: unlimited; etcd's default 5). */
  maxSnapshots?: number;
  /** --max-wals: WAL files to keep (0: unlimited; etcd's default 5). */
  maxWals?: number;
  /** --force-new-cluster: restart this member as the only voter of its cluster, with its data. */
  forceNewCluster?: boolean;
  /** --initial-election-tick-advance (default true): a fresh member's election timer starts advanced. */
  initialElectionTickAdvance?: boolean;
  /** --strict-reconfig-check (default true): refuse membership changes that could lose quorum. */
  strictReconfigCheck?: boolean;
  /** --experimental-initial-corrupt-check: compare HashKV with the peers before serving (corrupt.ts). */
  initialCorruptCheck?: boolean;
  /** --experimental-corrupt-check-time, ms (0: off): the leader's periodic HashKV comparison. */
  corruptCheckTimeMs?: number;
  /** --auto-compaction-mode (default periodic). */
  autoCompactionMode?: 'periodic' | 'revision';
  /** --auto-compaction-retention as given ("1": hours or revisions, "30m"; default "0": off); compactor.ts. */
  autoCompactionRetention?: string;
  /** --quota-backend-bytes: 0 or unset is etcd's default (2 GiB), < 0 no quota (server/quota.ts). */
  quotaBackendBytes?: number;
  /** --auth-token (default "simple"): "simple" or "jwt,pub-key=..,priv-key=..,sign-method=..,ttl=..". */
  authToken?: string;
  /** --auth-token-ttl in seconds (default 300): a simple token's life after its last use. */
  authTokenTtlSec?: number;
  /** --bcrypt-cost (default 10; outside [4, 31] etcd's default, with its warning). */
  bcryptCost?: number;
  /** --client-cert-auth: a call without a token is its verified client certificate's CN. */
  clientCertAuth?: boolean;
  /** This member was removed from the cluster (MemberRemove): the process should stop. */
  onRemoved?: () => void;
  logger: Logger;
  /** Called on a durability failure or a bug (an error not a ClientError while applying): the process must stop. */
  fatal(err: unknown): void;
}

export class EtcdServer implements ClientApi {
  readonly memberId: bigint;
  /** Read by the API on every call: learner, no leader (kept current by onSoftState and apply). */
  readonly gate = { learner: false, noLeader: true };
  readonly kv: KVServer;
  readonly lessor: LeaseServer;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: AuthServer;
  readonly watchable: WatchableStore;
  readonly limits: ApiLimits;

  private readonly memberIdLong: Long;
  private readonly electionMs: number;
  private readonly wal: Wal;
  private readonly stores: Stores;
  private readonly committer: BatchCommitter;
  private readonly node: RaftNode;
  private readonly proposer: Proposer;
  private readonly reads: ReadIndexer;
  private readonly snapshots: SnapshotPolicy;
  private readonly peers: Peers;
  private readonly leadership: Leadership;
  private readonly applier: EntryApplier;
  private readonly quota: Quota;
  private readonly forward = new LeaderForward();
  private readonly applyWait: ApplyWait;
  /** Auto-compaction, when a retention is set; it acts only while this member leads. */
  private readonly compactor: Compactor | undefined;
  private readTimer: NodeJS.Timeout | undefined;
  private stopCorruptMonitor: (() => void) | undefined;
  private closed = false;

  private constructor(
    private readonly cfg: ServerConfig,
    private readonly booted: Booted,
    leases: LeaseStore,
    tokens: TokenProvider,
    applyWait: ApplyWait,
  ) {
    const log = cfg.logger;
    const fatal = (err: unknown) => cfg.fatal(err);
    const memberId = booted.memberId;
    this.memberId = memberId;
    this.memberIdLong = fromBigInt(memberId, true);
    this.electionMs = cfg.electionTimeoutMs ?? 1000;
    this.wal = booted.wal;
    const requestTimeoutMs = 5000 + 2 * this.electionMs;
    this.limits = {
      maxRequestBytes: cfg.maxRequestBytes,
      maxTxnOps: cfg.maxTxnOps,
      watchProgressNotifyIntervalMs: cfg.watchProgressNotifyIntervalMs ?? 10 * 60 * 1000,
      electionMs: this.electionMs,
    };
    const authStore = new AuthStore(booted.backend, { log, tokens, bcryptCost: cfg.bcryptCost });
    const stores = new Stores(booted.backend, booted.kv, booted.cluster, leases, authStore, fatal);
    this.applyWait = applyWait;
    this.stores = stores;
    this.watchable = stores.watchable;
    this.committer = new BatchCommitter(booted.backend, fatal);
    const snapshotter = new Snapshotter(snapDir(cfg.dataDir));
    const node = new RaftNode(
      { wal: booted.wal, storage: booted.storage, snapshotter, handler: this.readyHandler(), fatal },
      booted.raftConfig,
    );
    this.node = node;
    this.proposer = new Proposer(node, memberId, Date.now(), requestTimeoutMs, undefined, this.electionMs);
    this.reads = new ReadIndexer({
      requestReadIndex: (ctx) => node.readIndex(ctx),
      leadsAlone: () => node.leadsAlone(),
      applied: () => stores.appliedIndex(),
      now: () => performance.now(),
      retryMs: 500,
      timeoutMs: requestTimeoutMs,
    });
    this.snapshots = new SnapshotPolicy({
      raft: node,
      storage: booted.storage,
      wal: booted.wal,
      stores,
      snapshotter,
      log,
      snapshotCount: cfg.snapshotCount ?? 100_000,
      catchupEntries: cfg.snapshotCatchupEntries ?? 5000,
      fatal,
    });
    this.peers = new Peers({
      raft: node,
      stores,
      snapshots: this.snapshots,
      memberId,
      listenUrl: (cfg.listenPeerUrls ?? cfg.advertisePeerUrls)[0]!,
      tls: cfg.peerTls,
      log,
      fatal,
      onRemoved: cfg.onRemoved,
      hashKV: hashKVAnswer(
        currentKv(() => this.stores),
        (h) => this.header(h),
      ),
    });
    this.leadership = new Leadership({
      raft: node,
      reads: this.reads,
      lessor: leases,
      memberId,
      electionMs: this.electionMs,
      log,
    });
    this.quota = new Quota({
      bytes: quotaBytes(cfg.quotaBackendBytes),
      size: () => stores.backend.sizeInUse(),
      now: () => performance.now(),
    });
    const quotaGate = new QuotaGate(this.quota, this.proposer, memberId);
    this.applier = new EntryApplier({
      stores,
      proposer: this.proposer,
      raft: node,
      peers: this.peers,
      committer: this.committer,
      memberId,
      log,
      quota: this.quota,
      alarmProposer: this.proposer,
    });
    this.kv = new KVServer(stores, this.proposer, this.reads, this, quotaGate, authStore);
    const asRoot = (): AuthInfo | undefined =>
      authStore.enabled ? { username: 'root', revision: authStore.revision() } : undefined;
    this.lessor = new LeaseServer(leases, this.proposer, node, log, quotaGate, asRoot);
    this.auth = new AuthServer({
      store: authStore,
      proposer: this.proposer,
      reads: this.reads,
      status: this,
      clientCertAuth: cfg.clientCertAuth ?? false,
      log,
    });
    this.cluster = clusterServerOf({
      stores,
      raft: node,
      proposer: this.proposer,
      peers: this.peers,
      reads: this.reads,
      memberId,
      strictReconfigCheck: cfg.strictReconfigCheck ?? true,
    });
    this.maintenance = memberMaintenance({
      stores: () => this.stores,
      node,
      leadership: this.leadership,
      proposer: this.proposer,
      log,
    });
    this.compactor = this.newCompactor();
  }

  /** --auto-compaction-*: a Compact request through the log, as the RPC's (etcd's v3compactor). */
  private newCompactor(): Compactor | undefined {
    const mode = this.cfg.autoCompactionMode ?? 'periodic';
    const retention = parseCompactionRetention(mode, this.cfg.autoCompactionRetention ?? '0');
    if (retention === 0) return undefined;
    const type = messageType('etcdserverpb.CompactionRequest');
    return newCompactor({
      mode,
      retention,
      rev: () => this.stores.kv.rev(),
      compact: (revision) => {
        const req = { revision, physical: false };
        return this.kv.compact(type.encode(req).finish(), req);
      },
      log: this.cfg.logger,
    });
  }

  static async start(cfg: ServerConfig): Promise<EtcdServer> {
    const started = performance.now();
    const log = cfg.logger;
    const electionMs = cfg.electionTimeoutMs ?? 1000;
    const heartbeatMs = cfg.heartbeatMs ?? 100;
    const electionTicks = Math.max(2, Math.round(electionMs / heartbeatMs));
    // A bad --auto-compaction-retention or --auth-token is refused before anything is opened.
    parseCompactionRetention(cfg.autoCompactionMode ?? 'periodic', cfg.autoCompactionRetention ?? '0');
    let applied = (): number => 0;
    const applyWait = new ApplyWait(() => applied(), 5000 + 2 * electionMs);
    const tokens = newTokenProvider(cfg.authToken ?? 'simple', {
      log,
      simpleTtlMs: (cfg.authTokenTtlSec ?? 300) * 1000,
      waitApplied: (index) => applyWait.wait(index),
      parseDuration: parseGoDuration,
    });
    const booted = await openMember({
      name: cfg.name,
      dataDir: cfg.dataDir,
      advertisePeerUrls: cfg.advertisePeerUrls,
      initialCluster: cfg.initialCluster ?? '',
      initialClusterState: cfg.initialClusterState ?? 'new',
      initialClusterToken: cfg.initialClusterToken,
      electionTicks,
      preVote: cfg.preVote ?? true,
      walDir: cfg.walDir,
      maxWals: cfg.maxWals,
      maxSnapshots: cfg.maxSnapshots,
      forceNewCluster: cfg.forceNewCluster,
      peerTls: cfg.peerTls,
      logger: log,
    });
    const leases = new LeaseStore({
      now: () => performance.now(),
      minTtl: Math.ceil((1.5 * electionMs) / 1000),
      store: backendLeaseStore(booted.backend),
    });
    logQuota(log, cfg.quotaBackendBytes);
    const srv = new EtcdServer(cfg, booted, leases, tokens, applyWait);
    applied = () => srv.stores.appliedIndex();
    await srv.startRaft(heartbeatMs);
    srv.advanceTicks(electionTicks);
    srv.lessor.start();
    srv.updateLearner();
    if (srv.compactor) {
      if (!srv.node.isLeader()) srv.compactor.pause();
      srv.compactor.run();
    }
    log.info(
      {
        'local-member-id': idHex(srv.memberId),
        'cluster-id': idHex(srv.stores.cluster.clusterId),
        term: srv.node.term(),
        revision: srv.stores.revision(),
        'applied-index': srv.stores.appliedIndex(),
        // From opening the data dir to serving: the backend, the WAL, the index, the replay, raft.
        took: `${(performance.now() - started).toFixed(0)}ms`,
      },
      'member ready',
    );
    srv.publish(cfg.name, cfg.advertiseClientUrls ?? []);
    srv.bindMetrics();
    if ((cfg.corruptCheckTimeMs ?? 0) > 0) {
      srv.stopCorruptMonitor = monitorKVHash(srv.corruptDeps(), cfg.corruptCheckTimeMs!);
    }
    return srv;
  }

  private async startRaft(heartbeatMs: number): Promise<void> {
    const { booted, node } = this;
    if (booted.bootstrapPeers) node.bootstrap(booted.bootstrapPeers);
    if (this.cfg.listenPeerUrls !== undefined || this.stores.cluster.members().length > 1) {
      await this.peers.start();
    }
    // etcd's CheckInitialHashKV: a member that holds data compares with its peers before it serves.
    if (this.cfg.initialCorruptCheck && this.stores.appliedIndex() > 0) {
      await checkInitialHashKV(this.corruptDeps(), this.requestTimeoutMs());
    }
    this.proposer.startTimeouts();
    this.readTimer = setInterval(() => this.reads.tick(), 100);
    this.readTimer.unref();
    node.start(heartbeatMs);
    // A lone voter elects itself at once; wait for that so the first request finds a leader.
    await node.drain();
  }

  /** --initial-election-tick-advance, in the background (tick_advance.ts). */
  private advanceTicks(electionTicks: number): void {
    void advanceInitialTicks({
      enabled: this.cfg.initialElectionTickAdvance ?? true,
      electionTicks,
      members: () => this.stores.cluster.members().length,
      activePeers: () => this.peers.activePeers().size - 1,
      advance: (ticks) => this.node.advanceTicks(ticks),
      wait: (ms) => new Promise((r) => setTimeout(() => r(!this.closed), ms).unref()),
      log: this.cfg.logger,
    });
  }

  /** The member's side of every Ready (etcd's raftReadyHandler and apply loop). */
  private readyHandler(): ReadyHandler {
    return {
      onSoftState: (ss, term) => {
        this.gate.noLeader = ss.lead === 0n;
        this.proposer.onLeader(ss.lead);
        this.leadership.onSoftState(ss, term);
        // As etcd's updateLeadership: only the leader compacts.
        if (ss.raftState === StateType.StateLeader) this.compactor?.resume();
        else this.compactor?.pause();
      },
      send: (msgs) => this.peers.send(msgs),
      onReadStates: (rs) => this.reads.onReadStates(rs),
      applySnapshot: (snap) => this.applySnapshot(snap),
      applyEntries: (entries) => this.applyEntries(entries),
      afterAdvance: () => this.snapshots.maybeSnapshot(),
    };
  }

  private applyEntries(entries: Entry[]): void {
    if (this.applier.apply(entries) > 0) {
      this.reads.onApplied(this.stores.appliedIndex());
      this.applyWait.onApplied(this.stores.appliedIndex());
    }
    this.updateLearner();
  }

  /** A promotion (or a snapshot) may have changed whether this member is a learner. */
  private updateLearner(): void {
    this.gate.learner = this.stores.cluster.member(this.memberId)?.isLearner === true;
  }

  private async applySnapshot(snap: Snapshot): Promise<void> {
    await this.snapshots.restore(snap);
    this.reads.onApplied(this.stores.appliedIndex());
    this.applyWait.onApplied(this.stores.appliedIndex());
    this.updateLearner();
    // The snapshot may name members this one never heard of.
    this.peers.syncAll();
  }

  /** Announces this member's name and client URLs through the log (retried until it applies). */
  private publish(name: string, clientURLs: string[]): void {
    const id = this.memberId;
    const body = encodeAttributes({ id, name, clientURLs });
    const cur = this.stores.cluster.member(id);
    if (cur && cur.name === name && cur.clientURLs.join(',') === clientURLs.join(',')) return;
    const attempt = (): void => {
      if (this.node.isStopped()) return;
      this.proposer.propose(Op.Attributes, body, body).then(
        () =>
          this.cfg.logger.info(
            { 'local-member-id': idHex(id), name, 'client-urls': clientURLs },
            'published local member',
          ),
        () => setTimeout(attempt, 500).unref(),
      );
    };
    attempt();
  }

  // ---- RaftStatus (api.ts) ----

  term(): number {
    return this.node.term();
  }

  rev(): number {
    return this.stores.kv.rev();
  }

  header(h: Header): Header {
    h.clusterId = fromBigInt(this.stores.cluster.clusterId, true);
    h.memberId = this.memberIdLong;
    h.raftTerm = this.node.term();
    return h;
  }

  /** /metrics reads this member from now on (one member per process; the last started wins). */
  private bindMetrics(): void {
    const peers = this.peers;
    const proposer = this.proposer;
    bindMember(
      memberSource(
        this.memberId,
        this.node,
        this.stores,
        () => proposer.waiting(),
        () => peers.connectedPeers(),
        this.quota.bytes,
      ),
    );
    bindPeers(() => peers.byteCounts());
    setVersion(SERVER_VERSION);
  }

  raftStatus(): unknown {
    return raftStatusJson(this.node.status());
  }

  async forwardToLeader(path: string, raw: Uint8Array, token?: string): Promise<Buffer | undefined> {
    const until = performance.now() + 5000 + 2 * this.electionMs;
    for (;;) {
      if (this.closed) throw new ErrStopped();
      const lead = this.node.lead();
      if (lead === this.memberId) return undefined;
      const url = lead === 0n ? undefined : this.stores.cluster.member(lead)?.clientURLs[0];
      if (url) return this.forward.call(url, path, raw, Math.max(100, until - performance.now()), token);
      if (performance.now() > until) throw new ErrNoLeader();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** etcd's ReqTimeout: 5 s plus two election timeouts. */
  private requestTimeoutMs(): number {
    return 5000 + 2 * (this.cfg.electionTimeoutMs ?? 1000);
  }

  /** The corruption checks' view of this member (corrupt.ts, corrupt_peers.ts). */
  private corruptDeps() {
    return corruptCheckDeps({
      memberId: this.memberId,
      kv: currentKv(() => this.stores),
      members: () => this.stores.cluster.members(),
      tls: this.cfg.peerTls,
      timeoutMs: this.requestTimeoutMs(),
      barrier: () => this.reads.barrier(),
      proposeAlarm: (raw, req) => this.proposer.propose(Op.Alarm, raw, req),
      isLeader: () => this.node.isLeader(),
      log: this.cfg.logger,
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The leader hands over first so the cluster does not wait an election timeout (etcd does too).
    await this.leadership.transferBeforeStop();
    this.stopCorruptMonitor?.();
    this.compactor?.close();
    this.lessor.close();
    this.committer.close();
    this.watchable.close();
    await this.stopRaft();
    this.forward.close();
    this.applyWait.close();
    this.stores.auth.close();
    const { backend } = this.stores;
    await backend.commit();
    await backend.close();
    await this.wal.close();
  }

  private async stopRaft(): Promise<void> {
    const { node } = this;
    // Let what is queued (e.g. the lease checkpoint at shutdown) reach the log first.
    await Promise.race([node.drain(), new Promise((r) => setTimeout(r, 1000).unref())]);
    node.stop();
    await node.drain();
    // A WAL write failing at shutdown is a durability failure like any other.
    await node.flushHardState().catch((err: unknown) => this.cfg.fatal(err));
    clearInterval(this.readTimer);
    this.reads.close();
    this.proposer.failAll(new ErrStopped());
    await this.peers.close();
  }
}
