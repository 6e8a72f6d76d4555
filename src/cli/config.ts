// Server configuration from flags, ETCD_* environment variables or a YAML --config-file, with etcd's
// flag names and defaults. Flags win over the environment; a config file replaces both (as in etcd).
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../pkg/logger.ts';

export interface TetcdConfig {
  name: string;
  dataDir: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  maxTxnOps: number;
  maxRequestBytes: number;
  logLevel: string;
  /** ms */
  heartbeatInterval: number;
  /** ms */
  electionTimeout: number;
  snapshotCount: number;
  snapshotCatchupEntries: number;
  preVote: boolean;
  /** Whether --listen-peer-urls was given (a lone member without it opens no peer port). */
  listenPeerUrlsGiven: boolean;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of each client connection (0 given: unlimited, as in etcd). */
  maxConcurrentStreams: number;
  /** ms: client pings closer than this are strikes (grpc-go keepalive enforcement). */
  grpcKeepAliveMinTime: number;
  /** ms: a silent client connection gets a server PING after this. */
  grpcKeepAliveInterval: number;
  /** ms: ...and is closed if still silent this long after it. */
  grpcKeepAliveTimeout: number;
  /** Client connections open at once (ours: etcd has no such bound). */
  maxClientConnections: number;
}

export class ConfigError extends Error {}

interface FlagSpec {
  flag: string;
  key: keyof TetcdConfig;
  help: string;
  def: string;
  /** A Go duration ("5s", "2h"); in the YAML file a bare number is nanoseconds, as etcd reads it. */
  duration?: true;
}

const MAX_UINT32 = 2 ** 32 - 1;

const FLAGS: FlagSpec[] = [
  { flag: 'name', key: 'name', help: 'human-readable name for this member', def: 'default' },
  { flag: 'data-dir', key: 'dataDir', help: 'path to the data directory (default "<name>.tetcd")', def: '' },
  {
    flag: 'listen-client-urls',
    key: 'listenClientUrls',
    help: 'list of URLs to listen on for client traffic',
    def: 'http://localhost:2379',
  },
  {
    flag: 'advertise-client-urls',
    key: 'advertiseClientUrls',
    help: "list of this member's client URLs to advertise to the public",
    def: 'http://localhost:2379',
  },
  {
    flag: 'listen-peer-urls',
    key: 'listenPeerUrls',
    help: 'list of URLs to listen on for peer traffic',
    def: 'http://localhost:2380',
  },
  {
    flag: 'initial-advertise-peer-urls',
    key: 'initialAdvertisePeerUrls',
    help: "list of this member's peer URLs to advertise to the rest of the cluster",
    def: 'http://localhost:2380',
  },
  {
    flag: 'initial-cluster',
    key: 'initialCluster',
    help: 'initial cluster configuration for bootstrapping',
    def: '',
  },
  {
    flag: 'initial-cluster-state',
    key: 'initialClusterState',
    help: 'initial cluster state ("new" or "existing")',
    def: 'new',
  },
  {
    flag: 'initial-cluster-token',
    key: 'initialClusterToken',
    help: 'initial cluster token for the cluster during bootstrap',
    def: 'etcd-cluster',
  },
  {
    flag: 'max-txn-ops',
    key: 'maxTxnOps',
    help: 'maximum number of operations permitted in a transaction',
    def: '128',
  },
  {
    flag: 'max-request-bytes',
    key: 'maxRequestBytes',
    help: 'maximum client request size in bytes the server will accept',
    def: '1572864',
  },
  { flag: 'log-level', key: 'logLevel', help: `log level (${LOG_LEVELS.join(', ')})`, def: 'info' },
  {
    flag: 'heartbeat-interval',
    key: 'heartbeatInterval',
    help: 'time (in milliseconds) of a heartbeat interval',
    def: '100',
  },
  {
    flag: 'election-timeout',
    key: 'electionTimeout',
    help: 'time (in milliseconds) for an election to timeout',
    def: '1000',
  },
  {
    flag: 'snapshot-count',
    key: 'snapshotCount',
    help: 'number of committed transactions to trigger a snapshot to disk',
    def: '100000',
  },
  {
    flag: 'snapshot-catchup-entries',
    key: 'snapshotCatchupEntries',
    help: 'number of entries for a slow follower to catch-up after compacting the raft storage entries',
    def: '5000',
  },
  {
    flag: 'pre-vote',
    key: 'preVote',
    help: 'enable the raft Pre-Vote algorithm to prevent disruption when a node rejoins the cluster',
    def: 'true',
  },
  {
    flag: 'max-concurrent-streams',
    key: 'maxConcurrentStreams',
    help: 'maximum concurrent streams that each client can open at a time',
    def: String(MAX_UINT32),
  },
  {
    flag: 'grpc-keepalive-min-time',
    key: 'grpcKeepAliveMinTime',
    help: "minimum interval duration that a client should wait before pinging server (0: grpc-go's 5m, as in etcd 3.4)",
    def: '5s',
    duration: true,
  },
  {
    flag: 'grpc-keepalive-interval',
    key: 'grpcKeepAliveInterval',
    help: "frequency duration of server-to-client ping to check if a connection is alive (0: grpc-go's 2h, as in etcd 3.4)",
    def: '2h',
    duration: true,
  },
  {
    flag: 'grpc-keepalive-timeout',
    key: 'grpcKeepAliveTimeout',
    help: "additional duration of wait before closing a non-responsive connection (0: grpc-go's 20s, as in etcd 3.4)",
    def: '20s',
    duration: true,
  },
  {
    flag: 'max-client-connections',
    key: 'maxClientConnections',
    help: 'maximum client connections (gRPC and HTTP) open at a time; more are closed as they are accepted (tetcd only)',
    def: '4096',
  },
];

/** Flags etcd users pass that this version accepts and ignores (cluster and tuning flags). */
const ACCEPTED_IGNORED = [
  'quota-backend-bytes',
  'auto-compaction-mode',
  'auto-compaction-retention',
  'logger',
  'log-outputs',
  'enable-v2',
  'listen-metrics-urls',
  'max-learners',
];

const envName = (flag: string) => `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;

function urls(flag: string, v: string): string[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError(`--${flag} must not be empty`);
  for (const u of list) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ConfigError(`--${flag}: invalid URL "${u}"`);
    }
    if (url.protocol !== 'http:')
      throw new ConfigError(`--${flag}: URL scheme must be http (TLS is not supported yet): "${u}"`);
    if (!url.port) throw new ConfigError(`--${flag}: URL "${u}" has no port`);
    if (url.pathname !== '/' && url.pathname !== '')
      throw new ConfigError(`--${flag}: URL "${u}" must not have a path`);
  }
  return list;
}

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(`--${flag} must be a positive integer, got "${v}"`);
  }
  return Number(v);
}

function uint32(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > MAX_UINT32) {
    throw new ConfigError(`--${flag} must be an unsigned 32-bit integer, got "${v}"`);
  }
  return Number(v);
}

const DURATION_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (time.ParseDuration: "300ms", "1h30m", "0"), in milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const bad = () => new ConfigError(`--${flag}: invalid duration "${v}"`);
  const t = v.trim();
  const m = /^([-+]?)(.*)$/.exec(t)!;
  const body = m[2]!;
  if (body === '0') return 0;
  if (body === '') throw bad();
  let ms = 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let at = 0;
  while (at < body.length) {
    part.lastIndex = at;
    const p = part.exec(body);
    if (p === null) throw bad();
    ms += Number(p[1]) * DURATION_UNIT_MS[p[2]!]!;
    at = part.lastIndex;
  }
  return m[1] === '-' ? -ms : ms;
}

function build(raw: Record<string, string>): TetcdConfig {
  const get = (f: string) => raw[f] ?? FLAGS.find((s) => s.flag === f)!.def;
  const level = get('log-level');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  const state = get('initial-cluster-state');
  if (state !== 'new' && state !== 'existing') {
    throw new ConfigError(`--initial-cluster-state must be "new" or "existing", got "${state}"`);
  }
  const name = get('name');
  const heartbeat = positiveInt('heartbeat-interval', get('heartbeat-interval'));
  const election = positiveInt('election-timeout', get('election-timeout'));
  if (election < 5 * heartbeat) {
    throw new ConfigError(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${heartbeat}ms]`,
    );
  }
  const preVote = get('pre-vote');
  if (!['true', 'false', ''].includes(preVote)) {
    throw new ConfigError(`--pre-vote must be true or false, got "${preVote}"`);
  }
  return {
    name,
    dataDir: get('data-dir') || `${name}.tetcd`,
    listenClientUrls: urls('listen-client-urls', get('listen-client-urls')),
    advertiseClientUrls: urls('advertise-client-urls', get('advertise-client-urls')),
    listenPeerUrls: urls('listen-peer-urls', get('listen-peer-urls')),
    initialAdvertisePeerUrls: urls('initial-advertise-peer-urls', get('initial-advertise-peer-urls')),
    initialCluster: get('initial-cluster'),
    initialClusterState: state,
    initialClusterToken: get('initial-cluster-token'),
    maxTxnOps: positiveInt('max-txn-ops', get('max-txn-ops')),
    maxRequestBytes: positiveInt('max-request-bytes', get('max-request-bytes')),
    logLevel: level,
    heartbeatInterval: heartbeat,
    electionTimeout: election,
    snapshotCount: positiveInt('snapshot-count', get('snapshot-count')),
    snapshotCatchupEntries: positiveInt('snapshot-catchup-entries', get('snapshot-catchup-entries')),
    preVote: preVote !== 'false',
    listenPeerUrlsGiven: raw['listen-peer-urls'] !== undefined,
    // etcd hands 0 to grpc-go, which then has no limit (and announces none).
    maxConcurrentStreams: uint32('max-concurrent-streams', get('max-concurrent-streams')) || MAX_UINT32,
    ...keepalive(get),
    maxClientConnections: positiveInt('max-client-connections', get('max-client-connections')),
  };
}

/**
 * The keepalive settings as etcd 3.4 hands them to grpc-go 1.33: a min time of 0 or less sets no
 * enforcement policy, and grpc-go's own (5 minutes) applies; an interval or a timeout of 0 or less
 * sets no server parameters, and grpc-go's own apply (2 h, 20 s): "0 to disable" disables nothing.
 */
function keepalive(get: (f: string) => string) {
  const min = parseDuration('grpc-keepalive-min-time', get('grpc-keepalive-min-time'));
  const interval = parseDuration('grpc-keepalive-interval', get('grpc-keepalive-interval'));
  const timeout = parseDuration('grpc-keepalive-timeout', get('grpc-keepalive-timeout'));
  const params = interval > 0 && timeout > 0;
  return {
    grpcKeepAliveMinTime: min > 0 ? min : 5 * 60_000,
    grpcKeepAliveInterval: params ? interval : 2 * 3_600_000,
    grpcKeepAliveTimeout: params ? timeout : 20_000,
  };
}

export interface Parsed {
  config: TetcdConfig;
  ignored: string[];
}

/** Parses argv (without node and script); throws ConfigError with a message for the user. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const cmd = new Command('tetcd')
    .description('tetcd: an etcd-compatible, strictly serializable key-value store')
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .allowExcessArguments(false);
  for (const f of FLAGS) {
    // Boolean flags take an optional value, as Go's flag package allows (--pre-vote, --pre-vote=false).
    const arg = f.def === 'true' || f.def === 'false' ? '[value]' : '<value>';
    cmd.addOption(new Option(`--${f.flag} ${arg}`, `${f.help} (env ${envName(f.flag)}, default "${f.def}")`));
  }
  for (const f of ACCEPTED_IGNORED) cmd.addOption(new Option(`--${f} [value]`).hideHelp());
  cmd.addOption(
    new Option('--config-file <path>', 'path to a YAML configuration file (replaces flags and environment)'),
  );
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') throw e;
    throw new ConfigError((err.message ?? String(e)).replace(/^error: /, ''));
  }
  const opts = cmd.opts<Record<string, string | boolean | undefined>>();
  const ignored = ACCEPTED_IGNORED.filter((f) => opts[camel(f)] !== undefined);
  if (typeof opts['configFile'] === 'string') {
    let doc: unknown;
    try {
      doc = yaml.load(readFileSync(opts['configFile'], 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read --config-file: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof doc !== 'object' || doc === null)
      throw new ConfigError('--config-file must hold a YAML mapping');
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc)) {
      if (!FLAGS.some((f) => f.flag === k)) {
        if (ACCEPTED_IGNORED.includes(k)) ignored.push(k);
        else throw new ConfigError(`--config-file: unknown key "${k}"`);
        continue;
      }
      const spec = FLAGS.find((f) => f.flag === k)!;
      // etcd's YAML holds a duration as a number of nanoseconds (a time.Duration in JSON).
      if (spec.duration && typeof v === 'number') raw[k] = `${v}ns`;
      else raw[k] = Array.isArray(v) ? v.join(',') : String(v);
    }
    return { config: build(raw), ignored };
  }
  const raw: Record<string, string> = {};
  for (const f of FLAGS) {
    const fromFlag = opts[camel(f.flag)];
    const fromEnv = env[envName(f.flag)];
    if (fromFlag === true) raw[f.flag] = 'true';
    else if (typeof fromFlag === 'string') raw[f.flag] = fromFlag;
    else if (fromEnv !== undefined) raw[f.flag] = fromEnv;
  }
  return { config: build(raw), ignored };
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
