// Every flag of etcd 3.4's and 3.5's `etcd --help` (and config.go), with what tetcd does with it. This
// list is the single source: the parser (config.ts) and `--help` read it, and test/cli_flags.test.ts
// checks that docs/flags.md's table says the same.

/** How a value is read and checked (Go's flag types as etcd declares them). */
export type FlagKind = 'string' | 'bool' | 'uint' | 'uint32' | 'int' | 'duration' | 'urls' | 'list';

/**
 * implemented: in effect. pending: accepted, warned about, in effect once the capability of `issue`
 * lands. ignored: accepted, warned about, no meaning in tetcd (`note` says why). refused: a value
 * that asks for it (see `asks`) stops startup with one line; the neutral value (empty, false, "off")
 * is accepted.
 */
export type FlagStatus = 'implemented' | 'pending' | 'ignored' | 'refused';

export type FlagGroup =
  | 'Member'
  | 'Clustering'
  | 'Security'
  | 'Auth'
  | 'Profiling and Monitoring'
  | 'Logging'
  | 'v2 Proxy'
  | 'Experimental feature'
  | 'Unsafe feature'
  | 'TO BE DEPRECATED'
  | 'tetcd only'
  | 'Ignored by etcd too';

export interface FlagInfo {
  flag: string;
  kind: FlagKind;
  /** The default as help shows it ("" for none). */
  def: string;
  group: FlagGroup;
  /** Which etcd releases have it: "3.4 3.5", "3.5", "3.6", "tetcd", "0.4" (ignored by etcd too). */
  etcd: string;
  status: FlagStatus;
  /** The issue whose capability a pending or refused flag waits for. */
  issue?: number;
  help: string;
  /** Why it has this status (docs/flags.md). */
  note: string;
  /** Hidden from --help (flags etcd itself ignores). */
  hidden?: true;
}

const TLS = 13;
const QUOTA = 14;

type Spec = Omit<FlagInfo, 'group' | 'flag' | 'kind' | 'def' | 'etcd' | 'status' | 'help'>;

let group: FlagGroup = 'Member';
const list: FlagInfo[] = [];
function add(
  flag: string,
  kind: FlagKind,
  def: string,
  etcd: string,
  status: FlagStatus,
  help: string,
  more: Partial<Spec> = {},
): void {
  list.push({ flag, kind, def, group, etcd, status, help, note: '', ...more });
}
const impl = (flag: string, kind: FlagKind, def: string, etcd: string, help: string, note = '') =>
  add(flag, kind, def, etcd, 'implemented', help, { note });
const pend = (flag: string, kind: FlagKind, def: string, etcd: string, issue: number, help: string) =>
  add(flag, kind, def, etcd, 'pending', help, { issue });
const ign = (flag: string, kind: FlagKind, def: string, etcd: string, help: string, note: string) =>
  add(flag, kind, def, etcd, 'ignored', help, { note });
/** A TLS flag (issue 13): in effect, as etcd reads it; pkg/tls.ts and cli/tls_setup.ts. */
const tls = (
  flag: string,
  kind: FlagKind,
  etcd: string,
  help: string,
  def = kind === 'bool' ? 'false' : '',
  note = '',
) => add(flag, kind, def, etcd, 'implemented', help, { issue: TLS, note });

const BOTH = '3.4 3.5';

group = 'Member';
impl('name', 'string', 'default', BOTH, 'human-readable name for this member');
impl('data-dir', 'string', '${name}.tetcd', BOTH, 'path to the data directory', 'default `<name>.tetcd`');
impl('wal-dir', 'string', '', BOTH, 'path to a dedicated WAL directory');
impl('snapshot-count', 'uint', '100000', BOTH, 'committed transactions that trigger a snapshot to disk');
impl('heartbeat-interval', 'uint', '100', BOTH, 'time (in milliseconds) of a heartbeat interval');
impl('election-timeout', 'uint', '1000', BOTH, 'time (in milliseconds) for an election to time out');
impl(
  'initial-election-tick-advance',
  'bool',
  'true',
  BOTH,
  'fast-forward the initial election ticks on boot',
);
impl('listen-peer-urls', 'urls', 'http://localhost:2380', BOTH, 'URLs to listen on for peer traffic');
impl('listen-client-urls', 'urls', 'http://localhost:2379', BOTH, 'URLs to listen on for client traffic');
impl('max-snapshots', 'uint', '5', BOTH, 'snapshot files to keep (0 is unlimited)');
impl('max-wals', 'uint', '5', BOTH, 'WAL files to keep (0 is unlimited)');
impl(
  'quota-backend-bytes',
  'int',
  '0',
  BOTH,
  'raise an alarm when the backend exceeds this size',
  "0: etcd's 2 GiB; negative: no quota; counted on LMDB's bytes in use, which compaction lowers (no defrag needed)",
);
ign(
  'backend-batch-interval',
  'duration',
  '',
  BOTH,
  'longest time before a backend commit',
  "tunes bbolt batching; tetcd's LMDB batch committer has its own fixed interval",
);
ign(
  'backend-batch-limit',
  'int',
  '0',
  BOTH,
  'most operations before a backend commit',
  "tunes bbolt batching; tetcd's LMDB batch committer has its own fixed limit",
);
ign(
  'backend-bbolt-freelist-type',
  'string',
  'map',
  '3.5',
  'bbolt freelist type',
  'the backend is LMDB, not bbolt',
);
impl('max-txn-ops', 'uint', '128', BOTH, 'most operations in one transaction');
impl('max-request-bytes', 'uint', '1572864', BOTH, 'largest client request in bytes');
impl(
  'max-concurrent-streams',
  'uint32',
  'math.MaxUint32',
  BOTH,
  'concurrent streams a client connection may open',
);
impl(
  'grpc-keepalive-min-time',
  'duration',
  '5s',
  BOTH,
  'shortest interval at which a client may ping the server',
);
impl(
  'grpc-keepalive-interval',
  'duration',
  '2h',
  BOTH,
  'interval of server pings to check a connection is alive',
);
impl(
  'grpc-keepalive-timeout',
  'duration',
  '20s',
  BOTH,
  'wait for a ping answer before closing the connection',
);
ign(
  'socket-reuse-port',
  'bool',
  'false',
  '3.5',
  'SO_REUSEPORT on the listeners',
  "a listener option of Go's net package; Node.js listeners are not shared between processes this way",
);
ign(
  'socket-reuse-address',
  'bool',
  'false',
  '3.5',
  'SO_REUSEADDR on the listeners',
  'Node.js sets SO_REUSEADDR on its listeners already',
);
ign(
  'raft-read-timeout',
  'duration',
  '5s',
  '3.5',
  'read timeout of peer connections',
  "tunes etcd's HTTP peer transport; tetcd's peer transport detects dead peers by raft heartbeats",
);
ign(
  'raft-write-timeout',
  'duration',
  '5s',
  '3.5',
  'write timeout of peer connections',
  "tunes etcd's HTTP peer transport; tetcd's peer transport detects dead peers by raft heartbeats",
);

group = 'Clustering';
impl(
  'initial-advertise-peer-urls',
  'urls',
  'http://localhost:2380',
  BOTH,
  "this member's peer URLs to advertise to the cluster",
);
impl(
  'initial-cluster',
  'string',
  'default=http://localhost:2380',
  BOTH,
  'initial cluster configuration for bootstrapping',
  'default `<name>=<each --initial-advertise-peer-urls>`',
);
impl('initial-cluster-state', 'string', 'new', BOTH, "initial cluster state ('new' or 'existing')");
impl('initial-cluster-token', 'string', 'etcd-cluster', BOTH, 'initial cluster token for bootstrapping');
impl(
  'advertise-client-urls',
  'urls',
  'http://localhost:2379',
  BOTH,
  "this member's client URLs to advertise",
);
add('discovery', 'string', '', BOTH, 'refused', 'discovery URL used to bootstrap the cluster', {
  note: 'discovery bootstrap is not supported: a member that ignored it would form the wrong cluster; use --initial-cluster',
});
ign(
  'discovery-fallback',
  'string',
  'proxy',
  BOTH,
  "behaviour when discovery fails ('exit' or 'proxy')",
  'only used with --discovery, which is refused',
);
ign(
  'discovery-proxy',
  'string',
  '',
  BOTH,
  'HTTP proxy for the discovery service',
  'only used with --discovery, which is refused',
);
add('discovery-srv', 'string', '', BOTH, 'refused', 'DNS SRV domain used to bootstrap the cluster', {
  note: 'DNS discovery is not supported: a member that ignored it would form the wrong cluster; use --initial-cluster',
});
ign(
  'discovery-srv-name',
  'string',
  '',
  BOTH,
  'suffix of the DNS SRV name queried',
  'only used with --discovery-srv, which is refused',
);
impl('strict-reconfig-check', 'bool', 'true', BOTH, 'refuse reconfigurations that would lose quorum');
impl(
  'pre-vote',
  'bool',
  'true',
  BOTH,
  'run the raft pre-vote phase',
  "default true (etcd 3.5's; etcd 3.4's is false)",
);
impl('auto-compaction-retention', 'string', '0', BOTH, 'auto compaction retention (0 disables)');
impl('auto-compaction-mode', 'string', 'periodic', BOTH, "auto compaction mode: 'periodic' or 'revision'");
ign(
  'enable-v2',
  'bool',
  'false',
  BOTH,
  'serve the v2 API',
  'tetcd serves the v3 API only; v2 requests get 404',
);
ign(
  'v2-deprecation',
  'string',
  'not-yet',
  '3.5',
  'phase of the v2store deprecation',
  'tetcd has no v2 store',
);

group = 'Security';
tls(
  'cert-file',
  'string',
  BOTH,
  'client server TLS cert file',
  '',
  'read again when the file changes (checked per connection), as etcd loads it per handshake',
);
tls('key-file', 'string', BOTH, 'client server TLS key file');
tls('client-cert-auth', 'bool', BOTH, 'enable client cert authentication');
tls('client-crl-file', 'string', BOTH, 'client certificate revocation list file');
tls(
  'client-cert-allowed-hostname',
  'string',
  '3.4',
  'allowed TLS hostname for client cert authentication',
  '',
  'checked once the handshake is done (etcd checks during it); the connection is closed',
);
tls(
  'trusted-ca-file',
  'string',
  BOTH,
  'client server TLS trusted CA file',
  '',
  'as in etcd 3.4, a trusted CA alone already requires a client certificate',
);
tls(
  'auto-tls',
  'bool',
  BOTH,
  'client TLS with generated certificates',
  'false',
  'ECDSA P-521 certificate in <data-dir>/fixtures/client, as etcd generates it',
);
ign(
  'client-cert-file',
  'string',
  '',
  '3.5',
  'cert file the member presents as a client',
  "tetcd's member never dials its own client port (the gateway calls the handlers in-process)",
);
ign(
  'client-key-file',
  'string',
  '',
  '3.5',
  'key file the member presents as a client',
  "tetcd's member never dials its own client port (the gateway calls the handlers in-process)",
);
tls('peer-cert-file', 'string', BOTH, 'peer server TLS cert file');
tls('peer-key-file', 'string', BOTH, 'peer server TLS key file');
tls('peer-client-cert-auth', 'bool', BOTH, 'enable peer client cert authentication');
tls('peer-trusted-ca-file', 'string', BOTH, 'peer server TLS trusted CA file');
tls('peer-cert-allowed-cn', 'string', '3.4', 'required CN of client certs on the peer port');
tls('peer-cert-allowed-hostname', 'string', '3.4', 'allowed TLS hostname for peer authentication');
tls(
  'peer-auto-tls',
  'bool',
  BOTH,
  'peer TLS with generated certificates',
  'false',
  'ECDSA P-521 certificate in <data-dir>/fixtures/peer, as etcd generates it',
);
tls('peer-crl-file', 'string', BOTH, 'peer certificate revocation list file');
tls(
  'peer-client-cert-file',
  'string',
  '3.5',
  'cert file the member presents to its peers as a client',
  '',
  'dialing peers; --peer-cert-file when not given',
);
tls('peer-client-key-file', 'string', '3.5', 'key file the member presents to its peers as a client');
tls('self-signed-cert-validity', 'uint', '3.5', 'validity in years of generated certificates', '1');
tls(
  'cipher-suites',
  'list',
  BOTH,
  'TLS cipher suites for clients and peers (Go names)',
  '',
  "Go's names, mapped to OpenSSL's; TLS 1.3 suites stay on, as in Go",
);
tls('tls-min-version', 'string', '3.5', 'minimum TLS version (TLS1.2 or TLS1.3)', 'TLS1.2');
tls('tls-max-version', 'string', '3.5', 'maximum TLS version (TLS1.2 or TLS1.3; empty: the highest)');
ign(
  'cors',
  'list',
  '*',
  BOTH,
  'CORS origins allowed',
  'tetcd restricts no origin: every HTTP answer is as etcd\'s default "*" gives it',
);
ign(
  'host-whitelist',
  'list',
  '*',
  BOTH,
  'accepted Host headers of HTTP requests',
  'tetcd checks no Host header: every HTTP request is served as with etcd\'s default "*"',
);

group = 'Auth';
impl(
  'auth-token',
  'string',
  'simple',
  BOTH,
  "auth token type and options ('simple' or 'jwt')",
  "jwt: RS/PS/ES/HS 256/384/512 as etcd 3.4, plus EdDSA; a bad value stops startup with etcd's words",
);
impl(
  'bcrypt-cost',
  'uint',
  '10',
  BOTH,
  'bcrypt cost of auth password hashes (4 to 31)',
  "outside 4 to 31: etcd's default 10, with its warning",
);
impl(
  'auth-token-ttl',
  'uint',
  '300',
  BOTH,
  'lifetime in seconds of an auth token',
  'simple tokens; renewed on use',
);

group = 'Profiling and Monitoring';
impl(
  'enable-pprof',
  'bool',
  'false',
  BOTH,
  'serve profiling data under /debug/pprof/',
  "Node's equivalents of Go's profiles (a CPU profile, a heap snapshot)",
);
impl(
  'metrics',
  'string',
  'basic',
  BOTH,
  "detail of exported metrics ('basic' or 'extensive')",
  "'extensive' adds grpc_server_handling_seconds; any other value is 'basic', as etcd takes it",
);
impl('listen-metrics-urls', 'urls', '', BOTH, 'URLs to listen on for /metrics and /health');

group = 'Logging';
ign(
  'logger',
  'string',
  'capnslog',
  BOTH,
  "'zap' or 'capnslog'",
  'tetcd always logs JSON lines (pino), as zap does',
);
ign(
  'log-outputs',
  'list',
  'default',
  BOTH,
  "log targets ('stdout', 'stderr', files)",
  'tetcd logs to stderr',
);
impl('log-level', 'string', 'info', BOTH, 'log level: debug, info, warn, error, panic or fatal');
ign(
  'enable-log-rotation',
  'bool',
  'false',
  '3.5',
  'rotate log files',
  'tetcd logs to stderr; rotation belongs to the process supervisor',
);
ign(
  'log-rotation-config-json',
  'string',
  '',
  '3.5',
  'log rotation settings',
  'tetcd logs to stderr; rotation belongs to the process supervisor',
);

group = 'v2 Proxy';
add('proxy', 'string', 'off', BOTH, 'refused', "proxy mode ('off', 'readonly' or 'on')", {
  note: "the v2 proxy is not supported: 'off' is accepted, 'on' and 'readonly' refused",
});
ign('proxy-failure-wait', 'uint', '5000', BOTH, 'ms an endpoint is held failed', 'only used by the v2 proxy');
ign(
  'proxy-refresh-interval',
  'uint',
  '30000',
  BOTH,
  'ms between endpoint refreshes',
  'only used by the v2 proxy',
);
ign('proxy-dial-timeout', 'uint', '1000', BOTH, 'ms for a dial to time out', 'only used by the v2 proxy');
ign('proxy-write-timeout', 'uint', '5000', BOTH, 'ms for a write to time out', 'only used by the v2 proxy');
ign('proxy-read-timeout', 'uint', '0', BOTH, 'ms for a read to time out', 'only used by the v2 proxy');

group = 'Experimental feature';
impl(
  'experimental-initial-corrupt-check',
  'bool',
  'false',
  BOTH,
  'check for data corruption before serving',
  "a member with data compares its HashKV with its peers' over the peer port; a mismatch stops the start",
);
impl(
  'experimental-corrupt-check-time',
  'duration',
  '0s',
  BOTH,
  'interval of cluster corruption checks',
  'the leader compares HashKVs every interval and raises CORRUPT (member 0) on a mismatch, as etcd 3.4.23',
);
pend(
  'experimental-compact-hash-check-enabled',
  'bool',
  'false',
  '3.5',
  QUOTA,
  "leader checks followers' compacted hashes",
);
pend(
  'experimental-compact-hash-check-time',
  'duration',
  '1m',
  '3.5',
  QUOTA,
  'interval of compacted hash checks',
);
ign(
  'experimental-enable-v2v3',
  'string',
  '',
  BOTH,
  'serve v2 requests through the v3 backend',
  'tetcd serves no v2 API',
);
ign(
  'experimental-enable-lease-checkpoint',
  'bool',
  'false',
  BOTH,
  'leader checkpoints lease TTLs',
  'tetcd always checkpoints remaining TTLs (docs/architecture.md, Leases)',
);
ign(
  'experimental-enable-lease-checkpoint-persist',
  'bool',
  'false',
  BOTH,
  'persist checkpointed TTLs',
  'tetcd always persists checkpointed TTLs',
);
pend(
  'experimental-compaction-batch-limit',
  'int',
  '1000',
  BOTH,
  QUOTA,
  'most revisions deleted in one compaction batch',
);
pend(
  'experimental-compaction-sleep-interval',
  'duration',
  '10ms',
  '3.5',
  QUOTA,
  'sleep between compaction batches',
);
impl(
  'experimental-watch-progress-notify-interval',
  'duration',
  '10m',
  BOTH,
  'interval of watch progress notifications',
);
ign(
  'experimental-warning-apply-duration',
  'duration',
  '100ms',
  BOTH,
  'warn about applies slower than this',
  'tetcd does not log slow applies',
);
ign(
  'experimental-backend-bbolt-freelist-type',
  'string',
  'array',
  '3.4',
  'bbolt freelist type',
  'the backend is LMDB, not bbolt',
);
impl(
  'experimental-peer-skip-client-san-verification',
  'bool',
  'false',
  BOTH,
  "skip the check that a peer client cert's SANs match the address it connects from",
);
ign(
  'experimental-downgrade-check-time',
  'duration',
  '5s',
  '3.5',
  'interval of downgrade checks',
  'tetcd reports one version and has no downgrade protocol',
);
ign(
  'experimental-enable-distributed-tracing',
  'bool',
  'false',
  '3.5',
  'OpenTelemetry tracing',
  'tetcd exports no traces',
);
ign(
  'experimental-distributed-tracing-address',
  'string',
  'localhost:4317',
  '3.5',
  'OpenTelemetry collector address',
  'tetcd exports no traces',
);
ign(
  'experimental-distributed-tracing-service-name',
  'string',
  'etcd',
  '3.5',
  'OpenTelemetry service name',
  'tetcd exports no traces',
);
ign(
  'experimental-distributed-tracing-instance-id',
  'string',
  '',
  '3.5',
  'OpenTelemetry instance ID',
  'tetcd exports no traces',
);
ign(
  'experimental-distributed-tracing-sampling-rate',
  'int',
  '0',
  '3.5',
  'OpenTelemetry samples per million spans',
  'tetcd exports no traces',
);
impl(
  'experimental-snapshot-catchup-entries',
  'uint',
  '5000',
  '3.5',
  'entries kept for slow followers after a snapshot',
  'the same setting as --snapshot-catchup-entries',
);
ign(
  'experimental-txn-mode-write-with-shared-buffer',
  'bool',
  'true',
  '3.5',
  'write txns share the read buffer',
  'tunes bbolt read buffers',
);
ign(
  'experimental-bootstrap-defrag-threshold-megabytes',
  'uint',
  '0',
  '3.5',
  'defragment at boot above this many free MB',
  'bbolt defragmentation; LMDB reuses free pages',
);
ign(
  'experimental-stop-grpc-service-on-defrag',
  'bool',
  'false',
  '3.5',
  'report NOT_SERVING during defrag',
  'tunes bbolt defragmentation',
);
ign('experimental-memory-mlock', 'bool', 'false', '3.5', 'mlock the bbolt file', "tunes bbolt's memory map");
ign(
  'enable-grpc-gateway',
  'bool',
  'true',
  BOTH,
  'serve the JSON gateway',
  "the JSON gateway is always served (etcd's default, true); =false does not turn it off yet",
);

group = 'Unsafe feature';
impl('force-new-cluster', 'bool', 'false', BOTH, 'restart as a one-member cluster with this data');
ign('unsafe-no-fsync', 'bool', 'false', BOTH, 'do not fsync', 'tetcd always fsyncs (safer than asked)');

group = 'TO BE DEPRECATED';
impl('debug', 'bool', 'false', '3.4', 'debug-level logging (same as --log-level=debug)');
ign(
  'log-package-levels',
  'string',
  '',
  '3.4',
  'per-package log levels',
  'tetcd has one log level (--log-level)',
);
ign('log-output', 'list', 'default', '3.4', 'older name of --log-outputs', 'tetcd logs to stderr');

group = 'tetcd only';
impl(
  'snapshot-catchup-entries',
  'uint',
  '5000',
  'tetcd',
  'entries kept for slow followers after a snapshot',
  'etcd 3.5 calls it --experimental-snapshot-catchup-entries',
);
impl(
  'max-client-connections',
  'uint',
  '4096',
  'tetcd',
  'client connections open at a time; more are closed as accepted',
  'etcd has no such bound',
);
ign(
  'max-learners',
  'uint',
  '1',
  '3.6',
  'most learners in the cluster',
  "etcd 3.6's flag; tetcd allows etcd 3.4's one learner",
);

group = 'Ignored by etcd too';
for (const f of [
  'cluster-active-size',
  'cluster-remove-delay',
  'cluster-sync-interval',
  'config',
  'force',
  'max-result-buffer',
  'max-retry-attempts',
  'peer-heartbeat-interval',
  'peer-election-timeout',
  'retry-interval',
  'snapshot',
  'v',
  'vv',
]) {
  add(f, 'string', '', '0.4', 'ignored', "etcd 0.4's flag", {
    note: 'etcd 3.x ignores it too',
    hidden: true,
  });
}

/** Every flag, in help order. `config-file` and `version` are handled before these. */
export const FLAG_TABLE: readonly FlagInfo[] = list;

export const FLAG_BY_NAME: ReadonlyMap<string, FlagInfo> = new Map(list.map((f) => [f.flag, f]));

/** Flags read before the table: they choose where the others come from or what to print. */
export const META_FLAGS = ['config-file', 'version', 'help'] as const;

/** The value asks for a capability that is refused (TLS on, discovery, the v2 proxy). */
export function asksForRefused(f: FlagInfo, value: string): boolean {
  if (f.status !== 'refused') return false;
  if (f.flag === 'proxy') return value !== 'off';
  if (f.kind === 'bool') return parseBool(value) !== false;
  return value.trim() !== '';
}

/** strconv.ParseBool, which Go's flag package uses: undefined when the text is no bool. */
export function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  return undefined;
}

/** etcd's environment variable for a flag: ETCD_ + upper case, dashes as underscores. */
export function envName(flag: string): string {
  return `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** What the status means, as docs/flags.md writes it. */
export function statusText(f: FlagInfo): string {
  switch (f.status) {
    case 'implemented':
      return 'implemented';
    case 'pending':
      return `accepted, not in effect yet (issue ${f.issue})`;
    case 'ignored':
      return 'accepted, no meaning here';
    case 'refused':
      return f.issue ? `refused when set (issue ${f.issue})` : 'refused when set';
  }
}
