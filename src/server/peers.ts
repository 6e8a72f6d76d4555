// The member's raft side: the Ready loop (raft_driver), the proposer, batched ReadIndex, the peer
// transport, and what applying the log means beyond KV commands (conf changes, published attributes,
// empty entries). Role changes move lease expiry with leadership and are logged like etcd's.
import type { Logger } from 'pino';
import type { KVStore } from '../mvcc/kvstore.ts';
import type { Lessor } from '../lease/lessor.ts';
import type { RaftCluster } from '../membership/cluster.ts';
import { decodeAttributes, encodeAttributes } from '../membership/member.ts';
import { encodeClusterInfo } from '../membership/join.ts';
import {
  ConfChangeType,
  MessageType,
  NONE,
  message,
  StateType,
  type ConfChange,
  type Entry,
  type Message,
  type SoftState,
} from '../raft/index.ts';
import { unmarshalConfChange } from '../raft/raftpb_codec.ts';
import { Transport, type TransportLogger } from '../transport/transport.ts';
import type { Booted } from './bootstrap.ts';
import { RaftDriver } from './raft_driver.ts';
import { Proposer } from './propose.ts';
import { ReadIndexer } from './read_index.ts';
import { applyEntries } from './apply/apply.ts';
import type { ApplyPosition, Applier } from './apply/applier.ts';
import { Op } from './raft_request.ts';
import { ErrBadLeaderTransferee, ErrNotLeader, ErrStopped, ErrTimeoutLeaderTransfer } from './errors.ts';
import { idHex } from '../pkg/ids.ts';
import { SnapshotPolicy } from './snapshot.ts';

export interface RaftHost {
  applier(): Applier & { position: ApplyPosition };
  applied(): number;
  setApplied(i: number): void;
  commitBackend(): void;
  kv(): KVStore;
  lessor: Lessor;
  cluster(): RaftCluster;
  /** A received snapshot is about to replace the backend. */
  beforeRestore(): void;
  /** The backend holds a received snapshot: rebuild the stores over it. */
  reload(): Promise<void>;
}

export interface RaftNodeConfig {
  name: string;
  logger: Logger;
  fatal(err: unknown): void;
  electionTimeoutMs?: number;
  listenPeerUrls?: string[];
  advertisePeerUrls: string[];
  snapshotCount?: number;
  snapshotCatchupEntries?: number;
  dataDir: string;
  /** This member was removed from the cluster: the process should stop. */
  onRemoved?: () => void;
}

export class RaftNode {
  readonly driver: RaftDriver;
  readonly proposer: Proposer;
  readonly reads: ReadIndexer;
  private transport: Transport | undefined;
  private readonly log: Logger;
  private readonly electionMs: number;
  private readTimer: NodeJS.Timeout | undefined;
  private lead: bigint = NONE;
  private wasLeader = false;
  private stopped = false;
  readonly snapshots: SnapshotPolicy;
  /** Peers heard from recently (for strict reconfiguration checks): id -> last time. */
  private readonly heard = new Map<bigint, number>();

  constructor(
    private readonly host: RaftHost,
    private readonly booted: Booted,
    private readonly cfg: RaftNodeConfig,
  ) {
    this.log = cfg.logger;
    this.electionMs = cfg.electionTimeoutMs ?? 1000;
    const requestTimeoutMs = 5000 + 2 * this.electionMs;
    this.driver = new RaftDriver(
      {
        wal: booted.wal,
        storage: booted.storage,
        send: (msgs) => this.send(msgs),
        persistSnapshot: (snap) => this.snapshots.persist(snap),
        applySnapshot: async (snap) => {
          await this.snapshots.restore(snap);
          this.syncAllPeers();
        },
        apply: (entries) => this.apply(entries),
        onSoftState: (ss, term) => this.onSoftState(ss, term),
        onReadStates: (rs) => {
          for (const r of rs) this.reads.onReadState(r);
        },
        afterAdvance: () => this.snapshots.maybeSnapshot(),
        fatal: (err) => cfg.fatal(err),
      },
      booted.raftConfig,
    );
    this.proposer = new Proposer(
      { propose: (d, alive) => this.driver.propose(d, alive), pending: () => this.driver.pending() },
      booted.memberId,
      Date.now(),
      requestTimeoutMs,
    );
    this.reads = new ReadIndexer({
      requestReadIndex: (ctx) => this.driver.readIndex(ctx),
      applied: () => host.applied(),
      now: () => performance.now(),
      retryMs: 500,
      timeoutMs: requestTimeoutMs,
    });
    this.snapshots = new SnapshotPolicy({
      storage: booted.storage,
      wal: booted.wal,
      backend: booted.backend,
      kv: () => host.kv(),
      applied: () => host.applied(),
      confState: () => this.driver.confState(),
      log: this.log,
      dataDir: cfg.dataDir,
      snapshotCount: cfg.snapshotCount ?? 100_000,
      catchupEntries: cfg.snapshotCatchupEntries ?? 5000,
      walTask: (fn) => this.driver.walTask(fn),
      saveMarker: (marker) => this.driver.saveSnapshotMarker(marker),
      beforeRestore: () => host.beforeRestore(),
      reload: async () => {
        await host.reload();
        this.reads.onApplied(host.applied());
      },
      fatal: (err) => cfg.fatal(err),
    });
  }

  async start(heartbeatMs: number): Promise<void> {
    if (this.booted.bootstrapPeers) this.driver.bootstrap(this.booted.bootstrapPeers);
    const cluster = this.host.cluster();
    if (this.cfg.listenPeerUrls !== undefined || cluster.members().length > 1) await this.startTransport();
    this.proposer.startTimeouts();
    this.readTimer = setInterval(() => this.reads.tick(), 100);
    this.readTimer.unref();
    this.driver.start(heartbeatMs);
    // A lone voter elects itself at once; wait for that so the first request finds a leader.
    await this.driver.drain();
  }

  private async startTransport(): Promise<void> {
    if (this.transport) return;
    const cluster = this.host.cluster();
    const t = new Transport({
      clusterId: cluster.clusterId,
      memberId: this.booted.memberId,
      listenUrl: (this.cfg.listenPeerUrls ?? this.cfg.advertisePeerUrls)[0]!,
      onMessage: (m) => {
        this.heard.set(m.from, performance.now());
        this.driver.step(m);
      },
      onUnreachable: (id) => this.driver.reportUnreachable(id),
      onSnapshotStatus: (id, ok) => this.driver.reportSnapshot(id, ok),
      membersInfo: () => encodeClusterInfo(this.host.cluster()),
      logger: transportLogger(this.log),
    });
    this.transport = t;
    await t.start();
    for (const m of cluster.members()) {
      if (m.id !== this.booted.memberId && m.peerURLs[0]) t.addPeer(m.id, m.peerURLs[0]);
    }
  }

  private send(msgs: Message[]): void {
    const t = this.transport;
    if (!t) return;
    const snaps = msgs.filter((m) => SnapshotPolicy.isSnap(m));
    t.send(snaps.length === 0 ? msgs : msgs.filter((m) => !SnapshotPolicy.isSnap(m)));
    for (const m of snaps) {
      this.snapshots.fillSnapshot(m).then(
        (full) => this.transport?.send([full]),
        (err: unknown) => {
          this.log.warn({ err, to: idHex(m.to) }, 'failed to prepare a snapshot');
          this.driver.reportSnapshot(m.to, false);
        },
      );
    }
  }

  /** After a snapshot replaced the member set: connect to every member it names. */
  private syncAllPeers(): void {
    const t = this.transport;
    if (!t) return;
    for (const m of this.host.cluster().members()) {
      if (m.id !== this.booted.memberId && m.peerURLs[0]) t.addPeer(m.id, m.peerURLs[0]);
    }
  }

  /**
   * This member plus the peers it is connected to or heard from within the last 5 s (etcd's
   * active-member check before a membership change).
   */
  activePeers(): Set<bigint> {
    const now = performance.now();
    const s = new Set<bigint>([this.booted.memberId]);
    for (const [id, t] of this.heard) if (now - t < 5000) s.add(id);
    for (const m of this.host.cluster().members()) if (this.transport?.connected(m.id)) s.add(m.id);
    return s;
  }

  term(): number {
    return this.driver.term();
  }

  committedIndex(): number {
    return this.driver.committedIndex();
  }

  leader(): bigint {
    return this.driver.lead();
  }

  isLearner(): boolean {
    return this.driver.isLearner();
  }

  /** undefined when a local read is already linearizable (a lone voter that leads). */
  readBarrier(): Promise<void> | undefined {
    if (this.driver.soleVoter() && this.driver.isLeader()) return undefined;
    return this.reads.wait();
  }

  private apply(entries: Entry[]): void {
    const { host } = this;
    applyEntries(
      {
        applier: host.applier(),
        proposer: this.proposer,
        appliedIndex: () => host.applied(),
        commitBackend: () => host.commitBackend(),
        applyConfChange: (e, stored) => this.applyConfChange(e, stored),
        applyEmpty: (e) => {
          host.kv().setConsistentIndex(e.index, e.term);
          // A leader's own first entry: every lease renewal of earlier terms is applied, so the lease
          // deadlines are complete and expiry can run here.
          if (this.wasLeader && e.term === this.driver.term()) {
            this.log.info({ 'local-member-id': idHex(this.booted.memberId) }, 'lease expiry runs here now');
            host.lessor.promote();
          }
        },
        applyAttributes: (e, body) => {
          const a = decodeAttributes(body);
          host.cluster().applyAttributes(a.id, a.name, a.clientURLs);
          host.kv().setConsistentIndex(e.index, e.term);
        },
        onApplied: (i) => {
          host.setApplied(i);
          this.reads.onApplied(i);
        },
      },
      entries,
    );
  }

  private applyConfChange(e: Entry, stored: boolean): void {
    const cc = unmarshalConfChange(e.type, e.data);
    if ('transition' in cc) throw new Error('apply: ConfChangeV2 is not proposed by tetcd');
    const cluster = this.host.cluster();
    const waiter = this.proposer.take(cc.id);
    let forRaft: ConfChange = cc;
    if (!stored) {
      const out = cluster.applyConfChange(cc);
      this.host.kv().setConsistentIndex(e.index, e.term);
      this.host.setApplied(e.index);
      if (out.ok) {
        this.log.info(
          { kind: out.kind, member: idHex(out.member.id), 'peer-urls': out.member.peerURLs },
          'applied a membership change',
        );
        waiter?.resolve(out.member);
      } else {
        forRaft = { ...cc, nodeId: NONE };
        waiter?.reject(out.error);
      }
    } else if (!replayedChangeHeld(cc, cluster)) {
      forRaft = { ...cc, nodeId: NONE };
    }
    const removedPeer = forRaft.type === ConfChangeType.ConfChangeRemoveNode && forRaft.nodeId !== NONE;
    const lastWord =
      removedPeer && this.driver.isLeader() && forRaft.nodeId !== this.booted.memberId
        ? this.finalHeartbeat(forRaft.nodeId)
        : undefined;
    this.driver.applyConfChange(forRaft);
    if (lastWord) this.transport?.send([lastWord]);
    this.syncPeers(forRaft);
  }

  /**
   * The leader stops talking to a member once its removal applies, so the member might never learn
   * that the removal committed: one last heartbeat carries the commit index to it (etcd's peers answer
   * a removed member with "removed" instead). Taken before raft forgets the member's progress.
   */
  private finalHeartbeat(id: bigint): Message {
    const commit = Math.min(this.driver.matchOf(id), this.driver.committedIndex());
    return message({
      type: MessageType.MsgHeartbeat,
      to: id,
      from: this.booted.memberId,
      term: this.driver.term(),
      commit,
    });
  }

  /** Keeps the transport's peer set in step with the members. */
  private syncPeers(cc: ConfChange): void {
    if (cc.nodeId === NONE || this.stopped) return;
    const cluster = this.host.cluster();
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) {
      if (cc.nodeId === this.booted.memberId) {
        this.log.warn(
          { 'local-member-id': idHex(cc.nodeId) },
          'the member has been permanently removed from the cluster',
        );
        // Like etcd, a removed member stops serving, so that clients fail over to the others.
        setImmediate(() => this.cfg.onRemoved?.());
      }
      // A moment's grace so the last heartbeat leaves before the connection closes.
      const t = this.transport;
      setTimeout(() => {
        if (!this.host.cluster().has(cc.nodeId)) t?.removePeer(cc.nodeId);
      }, 1000).unref();
      return;
    }
    const m = cluster.member(cc.nodeId);
    if (!m || m.id === this.booted.memberId || !m.peerURLs[0]) return;
    if (!this.transport) {
      void this.startTransport().catch((err: unknown) => this.cfg.fatal(err));
      return;
    }
    this.transport.addPeer(m.id, m.peerURLs[0]);
  }

  private onSoftState(ss: SoftState, term: number): void {
    const me = idHex(this.booted.memberId);
    if (ss.lead !== this.lead) {
      if (ss.lead === NONE) {
        this.log.info(
          { 'local-member-id': me, 'lost-leader': idHex(this.lead), term },
          'raft.node: lost leader',
        );
      } else {
        this.log.info({ 'local-member-id': me, leader: idHex(ss.lead), term }, 'raft.node: elected leader');
      }
      const hadLeader = this.lead !== NONE;
      this.lead = ss.lead;
      if (hadLeader) this.reads.onLeaderChange();
    }
    const leader = ss.raftState === StateType.StateLeader;
    if (leader && !this.wasLeader) {
      this.log.info({ 'local-member-id': me, term }, 'became leader');
    } else if (!leader && this.wasLeader) {
      this.log.info({ 'local-member-id': me, term, role: StateType[ss.raftState] }, 'stepped down as leader');
      this.host.lessor.demote();
    }
    this.wasLeader = leader;
  }

  /** Announces this member's name and client URLs through the log (retried until it applies). */
  publish(name: string, clientURLs: string[]): void {
    const id = this.booted.memberId;
    const body = encodeAttributes({ id, name, clientURLs });
    const cur = this.host.cluster().member(id);
    if (cur && cur.name === name && cur.clientURLs.join(',') === clientURLs.join(',')) return;
    const attempt = (): void => {
      if (this.stopped) return;
      this.proposer.propose(Op.Attributes, body, body).then(
        () =>
          this.log.info(
            { 'local-member-id': idHex(id), name, 'client-urls': clientURLs },
            'published local member',
          ),
        () => setTimeout(attempt, 500).unref(),
      );
    };
    attempt();
  }

  /** Proposes a conf change; resolves with the member it changed once applied here. */
  proposeConfChange<T>(cc: Omit<ConfChange, 'id'>): Promise<T> {
    return this.proposer.register<T>((id) => {
      this.driver.proposeConfChange({ ...cc, id }, (err) => this.proposer.take(id)?.reject(err));
    });
  }

  /** MoveLeader: only the leader may hand over, and only to a voter. */
  async moveLeader(target: bigint): Promise<void> {
    if (!this.driver.isLeader()) throw new ErrNotLeader();
    if (!this.driver.voters().includes(target)) throw new ErrBadLeaderTransferee();
    if (target === this.booted.memberId) return;
    await this.transfer(target, Math.max(5000, 2 * this.electionMs));
  }

  private async transfer(target: bigint, timeoutMs: number): Promise<void> {
    this.driver.transferLeader(target);
    const until = performance.now() + timeoutMs;
    while (this.driver.lead() !== target) {
      if (performance.now() > until || this.stopped) throw new ErrTimeoutLeaderTransfer();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.log.info({ from: idHex(this.booted.memberId), to: idHex(target) }, 'leadership transferred');
  }

  /** Before a graceful stop the leader hands over to the most caught-up voter. */
  async transferBeforeStop(): Promise<void> {
    if (!this.driver.isLeader() || this.driver.soleVoter()) return;
    let best: bigint | undefined;
    let bestMatch = -1;
    for (const v of this.driver.voters()) {
      if (v === this.booted.memberId) continue;
      const m = this.driver.matchOf(v);
      if (m > bestMatch) [best, bestMatch] = [v, m];
    }
    if (best === undefined) return;
    try {
      await this.transfer(best, this.electionMs * 2);
    } catch (err) {
      this.log.warn({ err }, 'leadership transfer before stopping failed');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    // Let what is queued (e.g. the lease checkpoint at shutdown) reach the log first.
    await Promise.race([this.driver.drain(), new Promise((r) => setTimeout(r, 1000).unref())]);
    this.stopped = true;
    this.driver.stop();
    await this.driver.drain();
    // A WAL write failing at shutdown is a durability failure like any other.
    await this.driver.flushHardState().catch((err: unknown) => this.cfg.fatal(err));
    clearInterval(this.readTimer);
    this.reads.close();
    this.proposer.failAll(new ErrStopped());
    this.transport?.close();
    this.transport = undefined;
  }
}

/** On replay, raft takes a conf change only if the stored membership shows it took effect. */
function replayedChangeHeld(cc: ConfChange, cluster: RaftCluster): boolean {
  if (cc.type === ConfChangeType.ConfChangeRemoveNode) return cluster.isRemoved(cc.nodeId);
  return cluster.has(cc.nodeId);
}

function transportLogger(log: Logger): TransportLogger {
  const l = log.child({ component: 'rafthttp' });
  return {
    debug: (m) => l.debug(m),
    info: (m) => l.info(m),
    warn: (m) => l.warn(m),
    error: (m) => l.error(m),
  };
}
