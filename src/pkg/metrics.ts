// The member's Prometheus metrics, under etcd 3.4's family names, types, labels and buckets (what
// etcd's Grafana dashboard and alerts query), plus prom-client's process_* and nodejs_* families.
//
// The hot paths pay nothing extra: what they count goes into plain numbers (`counts`, or a source
// the member binds) and the families read them when scraped. Only durations that are measured anyway
// (fsync, commit, snapshot) are observed into histograms as they happen.
import { readdirSync, readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();

/** Counted by the code that does the work; read when /metrics is scraped. */
export const counts = {
  mvccPut: 0,
  mvccPutBytes: 0,
  mvccRange: 0,
  mvccDelete: 0,
  mvccTxn: 0,
  mvccEvents: 0,
  mvccCompactionKeys: 0,
  leaseGranted: 0,
  leaseRenewed: 0,
  leaseRevoked: 0,
  leaseExpired: 0,
  walWriteBytes: 0,
  proposalsFailed: 0,
  readIndexesFailed: 0,
  slowReadIndexes: 0,
  slowApply: 0,
  heartbeatSendFailures: 0,
  leaderChanges: 0,
  learnerPromotes: 0,
  healthSuccess: 0,
  healthFailures: 0,
  clientGrpcReceivedBytes: 0,
  clientGrpcSentBytes: 0,
  clientUnary: 0,
  clientStream: 0,
  snapshotApplyInProgress: 0,
  defragInflight: 0,
  /** Open Watch streams (a gauge, not a counter). */
  watchStreams: 0,
};

/** The member's state, read at each scrape (bound once by the member; zeros until then). */
export interface MemberSource {
  id(): string;
  hasLeader(): boolean;
  isLeader(): boolean;
  isLearner(): boolean;
  proposalsCommitted(): number;
  proposalsApplied(): number;
  proposalsPending(): number;
  currentRevision(): number;
  compactRevision(): number;
  keys(): number;
  dbSize(): number;
  dbSizeInUse(): number;
  openReadTxns(): number;
  watchers(): number;
  slowWatchers(): number;
  pendingEvents(): number;
  quotaBackendBytes(): number;
  authRevision(): number;
  /** Remote member IDs (hex) with an open connection. */
  activePeers(): string[];
}

/** Per gRPC method counts (grpc_prometheus's families), read at each scrape. */
export interface GrpcMethodCounts {
  service: string;
  method: string;
  type: 'unary' | 'server_stream' | 'client_stream' | 'bidi_stream';
  started: number;
  received: number;
  sent: number;
  /** By gRPC code name ("OK", "Unavailable", ...). */
  handled: Map<string, number>;
}

/** Per peer byte counts (etcd_network_peer_*), read at each scrape. */
export interface PeerCounts {
  id: string;
  sent: number;
  received: number;
}

let member: MemberSource | undefined;
let grpcMethods: () => Iterable<GrpcMethodCounts> = () => [];
let peerCounts: () => Iterable<PeerCounts> = () => [];

export function bindMember(src: MemberSource | undefined): void {
  member = src;
}
export function bindGrpc(src: () => Iterable<GrpcMethodCounts>): void {
  grpcMethods = src;
}
export function bindPeers(src: () => Iterable<PeerCounts>): void {
  peerCounts = src;
}

/** The gRPC code names grpc_prometheus labels `handled_total` with, in code order. */
export const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

const registers = [registry];

/** Buckets start, start*factor, ... (count of them), as Prometheus' ExponentialBuckets. */
function exponential(start: number, factor: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0, v = start; i < count; i++, v *= factor) out.push(Number(v.toPrecision(12)));
  return out;
}

function histogram(name: string, help: string, buckets: number[], labelNames: string[] = []) {
  return new Histogram({ name, help, buckets, labelNames, registers });
}

/** A counter whose value is a number kept elsewhere. */
function counterOf(name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function gaugeOf(name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

function labelled(name: string, help: string, label: string, read: () => string): void {
  new Gauge({
    name,
    help,
    labelNames: [label],
    registers,
    collect() {
      this.reset();
      this.set({ [label]: read() }, 1);
    },
  });
}

const m =
  <T>(f: (s: MemberSource) => T, none: T) =>
  () =>
    member ? f(member) : none;
const b = (v: boolean) => (v ? 1 : 0);

// ---- disk ----
const ms1to8s = exponential(0.001, 2, 14);
export const walFsync = histogram(
  'etcd_disk_wal_fsync_duration_seconds',
  'The latency distributions of fsync called by WAL.',
  ms1to8s,
);
gaugeOf(
  'etcd_disk_wal_write_bytes_total',
  'Total number of bytes written in WAL.',
  () => counts.walWriteBytes,
);
export const backendCommit = histogram(
  'etcd_disk_backend_commit_duration_seconds',
  'The latency distributions of commit called by backend.',
  ms1to8s,
);
for (const phase of ['rebalance', 'spill', 'write']) {
  histogram(
    `etcd_debugging_disk_backend_commit_${phase}_duration_seconds`,
    `The latency distributions of commit.${phase} called by bboltdb backend.`,
    ms1to8s,
  );
}
export const backendDefrag = histogram(
  'etcd_disk_backend_defrag_duration_seconds',
  'The latency distribution of backend defragmentation.',
  exponential(0.1, 2, 13),
);
export const backendSnapshot = histogram(
  'etcd_disk_backend_snapshot_duration_seconds',
  'The latency distribution of backend snapshots.',
  exponential(0.01, 2, 17),
);
gaugeOf(
  'etcd_disk_defrag_inflight',
  'Whether or not defrag is active on the member. 1 means active, 0 means not.',
  () => counts.defragInflight,
);

// ---- snapshots ----
export const snapSaveMarshalling = histogram(
  'etcd_debugging_snap_save_marshalling_duration_seconds',
  'The marshalling cost distributions of save called by snapshot.',
  ms1to8s,
);
export const snapSaveTotal = histogram(
  'etcd_debugging_snap_save_total_duration_seconds',
  'The total latency distributions of save called by snapshot.',
  ms1to8s,
);
export const snapFsync = histogram(
  'etcd_snap_fsync_duration_seconds',
  'The latency distributions of fsync called by snap.',
  ms1to8s,
);
export const snapDbFsync = histogram(
  'etcd_snap_db_fsync_duration_seconds',
  'The latency distributions of fsyncing .snap.db file',
  ms1to8s,
);
export const snapDbSaveTotal = histogram(
  'etcd_snap_db_save_total_duration_seconds',
  'The total latency distributions of v3 snapshot save',
  exponential(0.1, 2, 10),
);

// ---- server ----
gaugeOf('etcd_server_has_leader', 'Whether or not a leader exists. 1 is existence, 0 is not.', () =>
  b(m((s) => s.hasLeader(), false)()),
);
gaugeOf('etcd_server_is_leader', 'Whether or not this member is a leader. 1 if is, 0 otherwise.', () =>
  b(m((s) => s.isLeader(), false)()),
);
gaugeOf('etcd_server_is_learner', 'Whether or not this member is a learner. 1 if is, 0 otherwise.', () =>
  b(m((s) => s.isLearner(), false)()),
);
counterOf(
  'etcd_server_leader_changes_seen_total',
  'The number of leader changes seen.',
  () => counts.leaderChanges,
);
counterOf(
  'etcd_server_learner_promote_successes',
  'The total number of successful learner promotions while this member is leader.',
  () => counts.learnerPromotes,
);
gaugeOf(
  'etcd_server_proposals_committed_total',
  'The total number of consensus proposals committed.',
  m((s) => s.proposalsCommitted(), 0),
);
gaugeOf(
  'etcd_server_proposals_applied_total',
  'The total number of consensus proposals applied.',
  m((s) => s.proposalsApplied(), 0),
);
gaugeOf(
  'etcd_server_proposals_pending',
  'The current number of pending proposals to commit.',
  m((s) => s.proposalsPending(), 0),
);
counterOf(
  'etcd_server_proposals_failed_total',
  'The total number of failed proposals seen.',
  () => counts.proposalsFailed,
);
counterOf(
  'etcd_server_read_indexes_failed_total',
  'The total number of failed read indexes seen.',
  () => counts.readIndexesFailed,
);
counterOf(
  'etcd_server_slow_read_indexes_total',
  "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
  () => counts.slowReadIndexes,
);
counterOf(
  'etcd_server_slow_apply_total',
  'The total number of slow apply requests (likely overloaded from slow disk).',
  () => counts.slowApply,
);
counterOf(
  'etcd_server_heartbeat_send_failures_total',
  'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
  () => counts.heartbeatSendFailures,
);
counterOf(
  'etcd_server_health_success',
  'The total number of successful health checks',
  () => counts.healthSuccess,
);
counterOf(
  'etcd_server_health_failures',
  'The total number of failed health checks',
  () => counts.healthFailures,
);
gaugeOf(
  'etcd_server_quota_backend_bytes',
  'Current backend storage quota size in bytes.',
  m((s) => s.quotaBackendBytes(), 0),
);
gaugeOf(
  'etcd_server_snapshot_apply_in_progress_total',
  '1 if the server is applying the incoming snapshot. 0 if none.',
  () => counts.snapshotApplyInProgress,
);
labelled(
  'etcd_server_id',
  "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
  'server_id',
  m((s) => s.id(), '0'),
);
let etcdVersion = '';
/** The etcd version this member reports (set once by the member from pkg/version.ts). */
export function setVersion(v: string): void {
  etcdVersion = v;
}
labelled(
  'etcd_server_version',
  "Which version is running. 1 for 'server_version' label with current version.",
  'server_version',
  () => etcdVersion,
);
labelled(
  'etcd_cluster_version',
  "Which version is running. 1 for 'cluster_version' label with current cluster version",
  'cluster_version',
  () => etcdVersion.split('.').slice(0, 2).join('.'),
);
labelled(
  'etcd_server_go_version',
  "Which Go version server is running with. 1 for 'server_go_version' label with current version.",
  'server_go_version',
  () => `node${process.versions.node}`,
);
counterOf(
  'etcd_debugging_server_lease_expired_total',
  'The total number of expired leases.',
  () => counts.leaseExpired,
);
new Counter({
  name: 'etcd_server_client_requests_total',
  help: 'The total number of client requests per client version.',
  labelNames: ['client_api_version', 'type'],
  registers,
  collect() {
    this.reset();
    this.inc({ client_api_version: '3.4', type: 'unary' }, counts.clientUnary);
    this.inc({ client_api_version: '3.4', type: 'stream' }, counts.clientStream);
  },
});
gaugeOf(
  'etcd_debugging_auth_revision',
  'The current revision of auth store.',
  m((s) => s.authRevision(), 0),
);

// ---- mvcc ----
for (const prefix of ['etcd_mvcc', 'etcd_debugging_mvcc']) {
  counterOf(`${prefix}_put_total`, 'Total number of puts seen by this member.', () => counts.mvccPut);
  counterOf(`${prefix}_range_total`, 'Total number of ranges seen by this member.', () => counts.mvccRange);
  counterOf(
    `${prefix}_delete_total`,
    'Total number of deletes seen by this member.',
    () => counts.mvccDelete,
  );
  counterOf(`${prefix}_txn_total`, 'Total number of txns seen by this member.', () => counts.mvccTxn);
}
gaugeOf(
  'etcd_mvcc_db_total_size_in_bytes',
  'Total size of the underlying database physically allocated in bytes.',
  m((s) => s.dbSize(), 0),
);
gaugeOf(
  'etcd_debugging_mvcc_db_total_size_in_bytes',
  'Total size of the underlying database physically allocated in bytes.',
  m((s) => s.dbSize(), 0),
);
gaugeOf(
  'etcd_mvcc_db_total_size_in_use_in_bytes',
  'Total size of the underlying database logically in use in bytes.',
  m((s) => s.dbSizeInUse(), 0),
);
gaugeOf(
  'etcd_mvcc_db_open_read_transactions',
  'The number of currently open read transactions',
  m((s) => s.openReadTxns(), 0),
);
export const mvccHash = histogram(
  'etcd_mvcc_hash_duration_seconds',
  'The latency distribution of storage hash operation.',
  exponential(0.01, 2, 15),
);
export const mvccHashRev = histogram(
  'etcd_mvcc_hash_rev_duration_seconds',
  'The latency distribution of storage hash by revision operation.',
  exponential(0.01, 2, 15),
);
gaugeOf(
  'etcd_debugging_mvcc_keys_total',
  'Total number of keys.',
  m((s) => s.keys(), 0),
);
gaugeOf(
  'etcd_debugging_mvcc_current_revision',
  'The current revision of store.',
  m((s) => s.currentRevision(), 0),
);
gaugeOf(
  'etcd_debugging_mvcc_compact_revision',
  'The revision of the last compaction in store.',
  m((s) => s.compactRevision(), -1),
);
gaugeOf(
  'etcd_debugging_mvcc_total_put_size_in_bytes',
  'The total size of put kv pairs seen by this member.',
  () => counts.mvccPutBytes,
);
counterOf(
  'etcd_debugging_mvcc_events_total',
  'Total number of events sent by this member.',
  () => counts.mvccEvents,
);
gaugeOf(
  'etcd_debugging_mvcc_pending_events_total',
  'Total number of pending events to be sent.',
  m((s) => s.pendingEvents(), 0),
);
gaugeOf(
  'etcd_debugging_mvcc_watcher_total',
  'Total number of watchers.',
  m((s) => s.watchers(), 0),
);
gaugeOf(
  'etcd_debugging_mvcc_watch_stream_total',
  'Total number of watch streams.',
  () => counts.watchStreams,
);
gaugeOf(
  'etcd_debugging_mvcc_slow_watcher_total',
  'Total number of unsynced slow watchers.',
  m((s) => s.slowWatchers(), 0),
);
counterOf(
  'etcd_debugging_mvcc_db_compaction_keys_total',
  'Total number of db keys compacted.',
  () => counts.mvccCompactionKeys,
);
export const dbCompactionPause = histogram(
  'etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds',
  'Bucketed histogram of db compaction pause duration.',
  exponential(1, 2, 13),
);
export const dbCompactionTotal = histogram(
  'etcd_debugging_mvcc_db_compaction_total_duration_milliseconds',
  'Bucketed histogram of db compaction total duration.',
  exponential(100, 2, 14),
);
export const indexCompactionPause = histogram(
  'etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds',
  'Bucketed histogram of index compaction pause duration.',
  exponential(0.5, 2, 14),
);

// ---- lease ----
counterOf(
  'etcd_debugging_lease_granted_total',
  'The total number of granted leases.',
  () => counts.leaseGranted,
);
counterOf(
  'etcd_debugging_lease_renewed_total',
  'The number of renewed leases seen by the leader.',
  () => counts.leaseRenewed,
);
counterOf(
  'etcd_debugging_lease_revoked_total',
  'The total number of revoked leases.',
  () => counts.leaseRevoked,
);
export const leaseTtl = histogram(
  'etcd_debugging_lease_ttl_total',
  'Bucketed histogram of lease TTLs.',
  exponential(1, 2, 24),
);

// ---- network ----
counterOf(
  'etcd_network_client_grpc_received_bytes_total',
  'The total number of bytes received from grpc clients.',
  () => counts.clientGrpcReceivedBytes,
);
counterOf(
  'etcd_network_client_grpc_sent_bytes_total',
  'The total number of bytes sent to grpc clients.',
  () => counts.clientGrpcSentBytes,
);
new Gauge({
  name: 'etcd_network_active_peers',
  help: 'The current number of active peer connections.',
  labelNames: ['Local', 'Remote'],
  registers,
  collect() {
    this.reset();
    if (!member) return;
    const local = member.id();
    for (const remote of member.activePeers()) this.set({ Local: local, Remote: remote }, 1);
  },
});
new Counter({
  name: 'etcd_network_peer_sent_bytes_total',
  help: 'The total number of bytes sent to peers.',
  labelNames: ['To'],
  registers,
  collect() {
    this.reset();
    for (const p of peerCounts()) if (p.sent > 0) this.inc({ To: p.id }, p.sent);
  },
});
new Counter({
  name: 'etcd_network_peer_received_bytes_total',
  help: 'The total number of bytes received from peers.',
  labelNames: ['From'],
  registers,
  collect() {
    this.reset();
    for (const p of peerCounts()) if (p.received > 0) this.inc({ From: p.id }, p.received);
  },
});
export const peerRoundTrip = histogram(
  'etcd_network_peer_round_trip_time_seconds',
  'Round-Trip-Time histogram between peers',
  exponential(0.0001, 2, 16),
  ['To'],
);

// ---- gRPC (grpc_prometheus's families) ----
// Labels in alphabetical order, as Prometheus' Go client prints them.
const methodLabels = ['grpc_method', 'grpc_service', 'grpc_type'];
function grpcCounter(name: string, help: string, read: (c: GrpcMethodCounts) => number): void {
  new Counter({
    name,
    help,
    labelNames: methodLabels,
    registers,
    collect() {
      this.reset();
      for (const c of grpcMethods()) {
        this.inc({ grpc_method: c.method, grpc_service: c.service, grpc_type: c.type }, read(c));
      }
    },
  });
}
grpcCounter('grpc_server_started_total', 'Total number of RPCs started on the server.', (c) => c.started);
grpcCounter(
  'grpc_server_msg_received_total',
  'Total number of RPC stream messages received on the server.',
  (c) => c.received,
);
grpcCounter(
  'grpc_server_msg_sent_total',
  'Total number of gRPC stream messages sent by the server.',
  (c) => c.sent,
);
new Counter({
  name: 'grpc_server_handled_total',
  help: 'Total number of RPCs completed on the server, regardless of success or failure.',
  labelNames: ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
  registers,
  collect() {
    this.reset();
    for (const c of grpcMethods()) {
      for (const code of GRPC_CODE_NAMES) {
        const labels = { grpc_code: code, grpc_method: c.method, grpc_service: c.service, grpc_type: c.type };
        this.inc(labels, c.handled.get(code) ?? 0);
      }
    }
  },
});

/**
 * --metrics extensive: grpc_server_handling_seconds, each call's time from its headers to its status
 * (grpc_prometheus' handling-time histogram, with Prometheus' default buckets). Off by default, as in
 * etcd: timing every call costs the hot path a clock read.
 */
export let handlingSeconds: Histogram<'grpc_method' | 'grpc_service' | 'grpc_type'> | undefined;
export function enableExtensive(): void {
  handlingSeconds ??= histogram(
    'grpc_server_handling_seconds',
    'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    ['grpc_method', 'grpc_service', 'grpc_type'],
  ) as Histogram<'grpc_method' | 'grpc_service' | 'grpc_type'>;
}

// ---- process (beside prom-client's defaults) ----
/** A limit of /proc/self/limits (its soft value), `unlimited` when it has none, -1 off Linux. */
function processLimit(name: string, unlimited: number): number {
  try {
    const line = new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!line) return -1;
    return line[1] === 'unlimited' ? unlimited : Number(line[1]);
  } catch {
    return -1;
  }
}
/** The open-files limit (-1 when unlimited or unknown), for os_fd_limit and /debug/vars. */
export const fdLimit = (): number => processLimit('Max open files', -1);
function fdUsed(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}
gaugeOf('os_fd_limit', 'The file descriptor limit.', fdLimit);
gaugeOf('os_fd_used', 'The number of used file descriptors.', fdUsed);
gaugeOf('process_virtual_memory_max_bytes', 'Maximum amount of virtual memory available in bytes.', () =>
  processLimit('Max address space', 2 ** 64),
);

// ---- the scrape itself (promhttp's families) ----
let scrapesInFlight = 0;
let defaultsOn = false;
const scrapes = new Counter({
  name: 'promhttp_metric_handler_requests_total',
  help: 'Total number of scrapes by HTTP status code.',
  labelNames: ['code'],
  registers,
});
// Present from the start, as promhttp has them; a scrape is counted once it is served.
for (const code of ['200', '500', '503']) scrapes.inc({ code }, 0);
gaugeOf(
  'promhttp_metric_handler_requests_in_flight',
  'Current number of scrapes being served.',
  () => scrapesInFlight,
);

/**
 * A float as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it (how Prometheus' Go client writes
 * bucket bounds): the shortest digits, in exponent form from 1e+06 up and below 1e-04.
 */
export function goFloat(v: number): string {
  if (!Number.isFinite(v) || v === 0) return v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(17)))));
  if (exp < -4 || exp >= 6) {
    const [mant, e] = v.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[-+]/, '');
    return `${mant}e${sign}${digits.padStart(2, '0')}`;
  }
  return String(v);
}

/** Bucket bounds (le="...") rewritten as Go writes them, so that queries naming one match etcd's. */
function goBounds(text: string): string {
  return text.replace(/le="([^"+][^"]*)"/g, (_m, b: string) => `le="${goFloat(Number(b))}"`);
}

/** The exposition text of every family, and its content type. */
export async function scrape(): Promise<{ body: string; contentType: string }> {
  // prom-client's process_* and nodejs_* families start with the first scrape, so that a process
  // nobody scrapes (a test, a tool importing this module) runs no event-loop monitor or GC observer.
  if (!defaultsOn) {
    defaultsOn = true;
    collectDefaultMetrics({ register: registry });
  }
  scrapesInFlight++;
  try {
    const body = goBounds(await registry.metrics());
    scrapes.inc({ code: '200' });
    return { body, contentType: registry.contentType };
  } finally {
    scrapesInFlight--;
  }
}
