// A tetcd member: wires the WAL, the log driver, the apply chain and the MVCC store together and
// serves the KV commands. Reads run locally (a single voter's applied state is linearizable: every
// acknowledged write is applied before it is acknowledged); writes go through the log.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import { Wal } from '../wal/wal.ts';
import { fromBigInt } from '../proto/index.ts';
import { RaftDriver } from './raft_driver.ts';
import { Proposer } from './propose.ts';
import { Op } from './raft_request.ts';
import { BackendApplier } from './apply/backend_applier.ts';
import { Lessor, MAX_LEASE_TTL } from '../lease/lessor.ts';
import { LeaseLoop } from './lease_loop.ts';
import { WatchableStore } from '../mvcc/watchable_store.ts';
import { watchSource } from './watch_source.ts';
import { backendLeaseStore, loadLeases } from './lease_store.ts';
import { ErrLeaseNotFound, ErrLeaseTTLTooLarge } from './errors.ts';
import { messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';
import { randomBytes } from 'node:crypto';
import { applyEntries } from './apply/apply.ts';
import { clusterIdFor, idHex, memberIdFor } from './ids.ts';
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
} from './txn/types.ts';

export const SERVER_VERSION = '3.5.0';

const BACKEND_BATCH_MS = 20;
const BACKEND_BATCH_LIMIT = 10_000;
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
  /** Election timeout in ms: the minimum lease TTL is ceil(1.5 x this) seconds. */
  electionTimeoutMs?: number;
  logger: Logger;
  /** Called on a durability failure; the process must stop. */
  fatal(err: unknown): void;
}

export class EtcdServer {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  private readonly memberIdLong;
  private readonly clusterIdLong;
  private appliedIndex = 0;
  private closed = false;
  readonly leaseLoop: LeaseLoop;
  readonly watchable: WatchableStore;

  private constructor(
    readonly cfg: ServerConfig,
    readonly backend: Backend,
    readonly kv: KVStore,
    private readonly wal: Wal,
    private readonly driver: RaftDriver,
    private readonly proposer: Proposer,
    private readonly applier: BackendApplier,
    readonly lessor: Lessor,
    ids: { member: bigint; cluster: bigint },
  ) {
    this.memberId = ids.member;
    this.clusterId = ids.cluster;
    this.memberIdLong = fromBigInt(ids.member, true);
    this.clusterIdLong = fromBigInt(ids.cluster, true);
    this.watchable = new WatchableStore(watchSource(kv, backend));
    kv.onTxnEnd((events, rev) => this.watchable.notify(events, rev));
    this.leaseLoop = new LeaseLoop({
      lessor,
      revoke: (id) =>
        this.leaseRevoke(LeaseRevokePb.encode({ ID: fromBigInt(id) }).finish(), { ID: fromBigInt(id) }),
      checkpoint: (cps) => this.leaseCheckpoint(cps),
      log: cfg.logger,
    });
  }

  static async start(cfg: ServerConfig): Promise<EtcdServer> {
    const log = cfg.logger;
    const member = memberIdFor(cfg.advertisePeerUrls, cfg.initialClusterToken);
    const cluster = clusterIdFor([member]);
    const backend = Backend.open(join(cfg.dataDir, 'member', 'db'));
    const kv = await KVStore.open(backend);
    const { wal, contents } = await Wal.open(join(cfg.dataDir, 'member', 'wal'));
    if (contents.repairedBytes > 0) {
      log.warn({ bytes: contents.repairedBytes }, 'repaired a torn write at the end of the WAL');
    }
    const lastIndex = contents.entries.at(-1)?.index ?? contents.snapshot?.index ?? 0;
    // The driver exists before the server it applies into; the sink is pointed at it below.
    const sink = { apply: (_entries: Parameters<typeof applyEntries>[1]): void => {} };
    const driver = new RaftDriver(
      {
        wal,
        apply: (entries) => sink.apply(entries),
        fatal: (err) => cfg.fatal(err),
      },
      { hardState: contents.hardState, lastIndex: Math.max(lastIndex, kv.consistentIndex()) },
    );
    const proposer = new Proposer(driver, member, Date.now());
    const lessor = new Lessor({
      now: () => performance.now(),
      minTtl: Math.ceil((1.5 * (cfg.electionTimeoutMs ?? 1000)) / 1000),
      store: backendLeaseStore(backend),
    });
    for (const l of loadLeases(backend)) lessor.restore(l.id, l.ttl, l.remainingTtl);
    restoreAttachments(kv, lessor);
    const applier = new BackendApplier(kv, lessor);
    const srv = new EtcdServer(cfg, backend, kv, wal, driver, proposer, applier, lessor, { member, cluster });
    sink.apply = (entries) => srv.apply(entries);
    srv.appliedIndex = kv.consistentIndex();
    const replay = contents.entries.filter((e) => e.index > srv.appliedIndex);
    if (replay.length) {
      srv.apply(replay);
      log.info({ entries: replay.length, appliedIndex: srv.appliedIndex }, 'replayed WAL entries');
    }
    await driver.campaign(member);
    // A single voter is the leader: it runs lease expiry from now on.
    lessor.promote();
    srv.leaseLoop.start();
    log.info(
      {
        'local-member-id': idHex(member),
        'cluster-id': idHex(cluster),
        term: driver.term(),
        revision: kv.rev(),
        'applied-index': srv.appliedIndex,
      },
      'member ready',
    );
    return srv;
  }

  private apply(entries: Parameters<typeof applyEntries>[1]): void {
    applyEntries(
      {
        applier: this.applier,
        proposer: this.proposer,
        appliedIndex: () => this.appliedIndex,
        commitBackend: () => this.scheduleBackendCommit(),
        onApplied: (i) => {
          this.appliedIndex = i;
        },
      },
      entries,
    );
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

  private leaseCheckpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown> {
    const msg = { checkpoints: cps.map((c) => ({ ID: fromBigInt(c.id), remainingTTL: c.remainingTtl })) };
    return this.proposer.propose(Op.LeaseCheckpoint, LeaseCheckpointPb.encode(msg).finish(), msg);
  }

  private commitTimer: NodeJS.Timeout | undefined;

  /**
   * The backend commits in batches (like etcd's batch interval): every BACKEND_BATCH_MS, or at once
   * when BACKEND_BATCH_LIMIT writes are buffered. Reads see buffered writes; the WAL covers a crash.
   */
  private scheduleBackendCommit(): void {
    if (this.backend.pendingWrites() >= BACKEND_BATCH_LIMIT) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
      this.commitBackendNow();
    } else if (!this.commitTimer) {
      this.commitTimer = setTimeout(() => {
        this.commitTimer = undefined;
        this.commitBackendNow();
      }, BACKEND_BATCH_MS);
    }
  }

  private commitBackendNow(): void {
    if (this.closed) return;
    this.backend.commit().catch((err: unknown) => this.cfg.fatal(err));
  }

  /** Fills the member-level fields of a response header. */
  header(h: Header): Header {
    h.clusterId = this.clusterIdLong;
    h.memberId = this.memberIdLong;
    h.raftTerm = this.driver.term();
    return h;
  }

  term(): number {
    return this.driver.term();
  }

  committedIndex(): number {
    return this.driver.committedIndex();
  }

  applied(): number {
    return this.appliedIndex;
  }

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
    this.leaseLoop.close();
    clearTimeout(this.commitTimer);
    this.watchable.close();
    this.driver.stop();
    await this.driver.drain();
    this.proposer.failAll(new Error('server stopped'));
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
