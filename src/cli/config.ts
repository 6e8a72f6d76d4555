// Server configuration from flags, ETCD_* environment variables or a YAML --config-file, read as etcd
// 3.4 reads them: Go's flag syntax (-flag, --flag, --flag=value, bools only with "="), an environment
// variable for every flag not given on the command line (both at once is refused), a warning for an
// ETCD_* variable that names no flag, and a config file that replaces flags and environment. Which flags
// exist and what tetcd does with each is flag_table.ts.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import yaml from 'js-yaml';
import { LOG_LEVELS } from '../pkg/logger.ts';
import { FLAG_BY_NAME, asksForRefused, envName, parseBool, type FlagInfo } from './flag_table.ts';
import { checkCompactionMode, parseCompactionRetention, type CompactionMode } from '../server/compactor.ts';
import { goCipherSuites, TlsConfigError, tlsVersion, type TlsInfo } from '../pkg/tls.ts';

export interface TetcdConfig {
  name: string;
  dataDir: string;
  /** --wal-dir; undefined: <data-dir>/member/wal. */
  walDir: string | undefined;
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
  /** Snapshot files kept (0: unlimited). */
  maxSnapshots: number;
  /** WAL files kept (0: unlimited). */
  maxWals: number;
  forceNewCluster: boolean;
  initialElectionTickAdvance: boolean;
  strictReconfigCheck: boolean;
  /** --experimental-initial-corrupt-check. */
  initialCorruptCheck: boolean;
  /** --experimental-corrupt-check-time, ms (0: off). */
  corruptCheckTime: number;
  /** --enable-pprof: profiles under /debug/pprof/ on the client port. */
  enablePprof: boolean;
  /** --metrics: 'extensive' adds the gRPC handling-time histogram (any other value is etcd's basic). */
  metrics: string;
  /** --listen-metrics-urls: more ports serving /metrics and /health. */
  listenMetricsUrls: string[];
  /** --quota-backend-bytes (0: etcd's default, negative: no quota). */
  quotaBackendBytes: number;
  /** --auth-token as given ("simple", or "jwt,..."; checked when the member starts, as etcd does). */
  authToken: string;
  /** --auth-token-ttl, seconds. */
  authTokenTtl: number;
  /** --bcrypt-cost (out of range: the auth store warns and takes 10, as etcd). */
  bcryptCost: number;
  autoCompactionMode: CompactionMode;
  /** --auto-compaction-retention as given (checked here, read by the compactor). */
  autoCompactionRetention: string;
  /** ms between watch progress notifications. */
  watchProgressNotifyInterval: number;
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
  /** Client TLS (--cert-file, ...): undefined when neither certificates nor --auto-tls are given. */
  clientTls: TlsFlagsConfig | undefined;
  /** Peer TLS (--peer-cert-file, ...): likewise. */
  peerTls: TlsFlagsConfig | undefined;
  /** --self-signed-cert-validity, years. */
  selfSignedCertValidity: number;
}

/** The TLS flags of one side; autoTls: generate the certificate into <data-dir>/fixtures/<side>. */
export interface TlsFlagsConfig extends Omit<TlsInfo, 'certFile' | 'keyFile'> {
  certFile: string;
  keyFile: string;
  autoTls: boolean;
  /** Peers only: --experimental-peer-skip-client-san-verification. */
  skipClientSanVerify?: boolean;
  /** Peers only (3.5): the certificate presented when dialing peers (--peer-client-cert-file). */
  clientCertFile?: string | undefined;
  clientKeyFile?: string | undefined;
}

/** A configuration the user must fix. exitCode 2 for flag syntax (as Go's flag package), 1 otherwise. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

const MAX_UINT32 = 2 ** 32 - 1;
const MAX_REPR_UINT = Number.MAX_SAFE_INTEGER;

export interface Parsed {
  config: TetcdConfig;
  /** Flags given that have no meaning here (flag_table's 'ignored'). */
  ignored: string[];
  /** Flags given that take effect once another issue lands: flag -> issue. */
  pending: { flag: string; issue: number }[];
  /** Warnings for the log, as etcd words them (unrecognized ETCD_* variables). */
  warnings: string[];
  /** Where the configuration came from, for the log. */
  configFile: string | undefined;
}

/** What argv asks to print instead of starting: Go's flag package takes -h/-help/--help and -version. */
export function infoRequest(argv: string[]): 'help' | 'version' | undefined {
  for (const a of argv) {
    if (a === '--' || !a.startsWith('-')) return undefined;
    const name = a.replace(/^--?/, '').split('=')[0];
    if (name === 'h' || name === 'help') return 'help';
    if (name === 'version' && parseBool(a.split('=')[1] ?? 'true') === true) return 'version';
  }
  return undefined;
}

/** Parses argv (without node and script); throws ConfigError with a message for the user. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const fromArgs = parseArgs(argv);
  const configFile = (fromArgs.get('config-file') ?? env['ETCD_CONFIG_FILE']) || undefined;
  let raw: Map<string, string>;
  const warnings: string[] = [];
  if (configFile !== undefined) {
    raw = readConfigFile(configFile);
  } else {
    raw = new Map(fromArgs);
    for (const [key, value] of Object.entries(env)) {
      if (!key.startsWith('ETCD_') || value === undefined) continue;
      const flag = key.slice(5).toLowerCase().replace(/_/g, '-');
      const known =
        FLAG_BY_NAME.get(flag) ?? (flag === 'config-file' || flag === 'version' ? flag : undefined);
      if (known === undefined || envName(flag) !== key) {
        warnings.push(`unrecognized environment variable ${key}=${value}`);
        continue;
      }
      if (fromArgs.has(flag)) {
        throw new ConfigError(
          `conflicting environment variable "${key}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`,
        );
      }
      if (value === '' || typeof known === 'string') continue;
      const why = invalid(known, value);
      if (why !== undefined) throw new ConfigError(`invalid value "${value}" for ${key}: ${why}`);
      raw.set(flag, value);
    }
  }
  raw.delete('config-file');
  raw.delete('version');
  refuseUnsupported(raw);
  if (configFile === undefined && raw.has('listen-client-urls') && !raw.has('advertise-client-urls')) {
    // etcd 3.4's check: the default would advertise localhost, which remote clients cannot reach.
    throw new ConfigError(
      '--advertise-client-urls is required when --listen-client-urls is set explicitly (the URLs clients are told to use)',
    );
  }
  const ignored: string[] = [];
  const pending: Parsed['pending'] = [];
  for (const flag of raw.keys()) {
    const f = FLAG_BY_NAME.get(flag)!;
    if (f.status === 'ignored' || f.status === 'refused') ignored.push(flag);
    else if (f.status === 'pending') pending.push({ flag, issue: f.issue! });
  }
  return { config: build(raw, warnings), ignored, pending, warnings, configFile };
}

/** Go's flag package: -f, --f, -f=v, --f v; a bool takes a value only after "="; the last one wins. */
function parseArgs(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      if (i + 1 < argv.length) throw new ConfigError(`'${argv[i + 1]}' is not a valid flag`);
      break;
    }
    if (!a.startsWith('-') || a === '-') throw new ConfigError(`'${a}' is not a valid flag`);
    const body = a.replace(/^--?/, '');
    if (body === '' || body.startsWith('-') || body.startsWith('=')) {
      throw new ConfigError(`bad flag syntax: ${a}`, 2);
    }
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    let value = eq < 0 ? undefined : body.slice(eq + 1);
    const f = FLAG_BY_NAME.get(name);
    const isBool = f?.kind === 'bool' || name === 'version';
    if (!f && name !== 'config-file' && name !== 'version') {
      throw new ConfigError(`flag provided but not defined: -${name}`, 2);
    }
    if (isBool) {
      value ??= 'true';
      if (parseBool(value) === undefined) {
        throw new ConfigError(`invalid boolean value "${value}" for -${name}: parse error`, 2);
      }
    } else if (value === undefined) {
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`, 2);
      value = argv[++i]!;
    }
    const why = f && invalid(f, value);
    if (why) throw new ConfigError(`invalid value "${value}" for flag -${name}: ${why}`, 2);
    out.set(name, value);
  }
  return out;
}

/** Why the value does not parse as the flag's Go type (etcd's words), or undefined if it does. */
function invalid(f: FlagInfo, v: string): string | undefined {
  const ok = (() => {
    switch (f.kind) {
      case 'bool':
        return parseBool(v) !== undefined;
      case 'uint':
        return /^\d+$/.test(v) && Number(v) <= MAX_REPR_UINT;
      case 'uint32':
        return /^\d+$/.test(v) && Number(v) <= MAX_UINT32;
      case 'int':
        return /^[-+]?\d+$/.test(v);
      case 'duration':
        try {
          parseDuration(f.flag, v);
          return true;
        } catch {
          return false;
        }
      default:
        return true;
    }
  })();
  if (!ok) return 'parse error';
  return f.kind === 'urls' && v !== '' ? badUrl(v) : undefined;
}

/** A URL as etcd's flags take it: scheme://host:port with no path ("" fields when absent). */
export function splitUrl(
  u: string,
): { scheme: string; host: string; port: string; path: string } | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\[[^\]]*\]|[^/?#:]*)(?::([^/?#]*))?(.*)$/.exec(u.trim());
  if (!m) return undefined;
  return { scheme: m[1]!.toLowerCase(), host: m[2]!.replace(/^\[|\]$/g, ''), port: m[3] ?? '', path: m[4]! };
}

/** etcd's URL list flags (types.NewURLs): each URL has a known scheme, a host:port and no path. */
function badUrl(list: string): string | undefined {
  for (const u of list.split(',')) {
    const p = splitUrl(u);
    if (p === undefined) return `URL address does not have the form "host:port": ${u}`;
    if (!['http', 'https', 'unix', 'unixs'].includes(p.scheme)) {
      return `URL scheme must be http, https, unix, or unixs: ${u}`;
    }
    if (p.scheme.startsWith('unix')) continue;
    if (!/^\d+$/.test(p.port)) return `URL address does not have the form "host:port": ${u}`;
    if (p.path !== '' && p.path !== '/') return `URL must not contain a path: ${u}`;
  }
  return undefined;
}

/** The YAML file as etcd 3.4 reads it: keys are the flag names; lists as sequences; durations in ns. */
function readConfigFile(path: string): Map<string, string> {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as { code?: string }).code === 'ENOENT' ? 'no such file or directory' : String(e);
    throw new ConfigError(`cannot read --config-file ${path}: ${why}`);
  }
  if (doc === undefined || doc === null) return new Map();
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`--config-file ${path} must hold a YAML mapping`);
  }
  const raw = new Map<string, string>();
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (k === 'client-transport-security' || k === 'peer-transport-security') {
      transportSecurity(k, v, raw);
      continue;
    }
    const f = FLAG_BY_NAME.get(k);
    if (!f) throw new ConfigError(`--config-file ${path}: unknown key "${k}"`);
    if (v === null || v === undefined) continue;
    let s: string;
    if (Array.isArray(v)) s = v.map(String).join(',');
    else if (f.kind === 'duration' && typeof v === 'number') s = `${v}ns`;
    else if (typeof v === 'object')
      throw new ConfigError(`--config-file ${path}: "${k}" must not be a mapping`);
    else s = String(v as string | number | boolean);
    const why = invalid(f, s);
    if (why !== undefined)
      throw new ConfigError(`--config-file ${path}: invalid value "${s}" for "${k}": ${why}`);
    raw.set(k, s);
  }
  return raw;
}

/** etcd's YAML holds TLS in two mappings: their keys, as the flags they stand for. */
const TRANSPORT_KEYS: Record<string, [client: string, peer: string]> = {
  'cert-file': ['cert-file', 'peer-cert-file'],
  'key-file': ['key-file', 'peer-key-file'],
  'client-cert-file': ['client-cert-file', 'peer-client-cert-file'],
  'client-key-file': ['client-key-file', 'peer-client-key-file'],
  'client-cert-auth': ['client-cert-auth', 'peer-client-cert-auth'],
  'trusted-ca-file': ['trusted-ca-file', 'peer-trusted-ca-file'],
  'auto-tls': ['auto-tls', 'peer-auto-tls'],
  'crl-file': ['client-crl-file', 'peer-crl-file'],
  'allowed-cn': ['', 'peer-cert-allowed-cn'],
  'allowed-hostname': ['client-cert-allowed-hostname', 'peer-cert-allowed-hostname'],
};

/** client-transport-security / peer-transport-security: each key set as the flag it stands for. */
function transportSecurity(key: string, v: unknown, raw: Map<string, string>): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'object' || Array.isArray(v))
    throw new ConfigError(`--config-file: "${key}" must be a mapping`);
  const side = key === 'client-transport-security' ? 0 : 1;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const flag = TRANSPORT_KEYS[k]?.[side];
    if (!flag) throw new ConfigError(`--config-file: unknown key "${key}.${k}"`);
    if (x === null || x === undefined) continue;
    raw.set(flag, String(x as string | boolean));
  }
}

/** Flags whose value asks for what tetcd cannot do safely: one line naming them. */
function refuseUnsupported(raw: Map<string, string>): void {
  for (const [flag, value] of raw) {
    const f = FLAG_BY_NAME.get(flag)!;
    if (!asksForRefused(f, value)) continue;
    if (flag === 'proxy') {
      throw new ConfigError(
        `--proxy=${value} is not supported (tetcd has no v2 proxy): remove it or give --proxy=off`,
      );
    }
    throw new ConfigError(
      `--${flag} is not supported (no discovery bootstrap): bootstrap with --initial-cluster instead`,
    );
  }
}

/** A URL list we can serve: http or https, host:port, no path; listen URLs bind an IP. */
function urls(flag: string, v: string, bind = false): string[] {
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new ConfigError(`--${flag} must not be empty`);
  for (const u of list) {
    const why = badUrl(u);
    if (why !== undefined) throw new ConfigError(`invalid value "${v}" for --${flag}: ${why}`);
    const p = splitUrl(u)!;
    if (p.scheme !== 'http' && p.scheme !== 'https')
      throw new ConfigError(`--${flag}: ${p.scheme}:// URLs are not supported yet: "${u}"`);
    if (bind && p.host !== 'localhost' && isIP(p.host) === 0) {
      throw new ConfigError(`expected IP in URL for binding (${u})`);
    }
  }
  return list;
}

function positiveInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) <= 0 || !Number.isSafeInteger(Number(v))) {
    throw new ConfigError(`--${flag} must be a positive integer, got "${v}"`);
  }
  return Number(v);
}

function uint(flag: string, v: string, max = MAX_REPR_UINT): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) > max) {
    throw new ConfigError(
      `--${flag} must be an unsigned ${max === MAX_UINT32 ? '32-bit ' : ''}integer, got "${v}"`,
    );
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

function build(raw: Map<string, string>, warnings: string[] = []): TetcdConfig {
  const get = (f: string, def: string) => raw.get(f) ?? def;
  const bool = (f: string, def: boolean) => {
    const v = raw.get(f);
    return v === undefined ? def : parseBool(v) === true;
  };
  const level = bool('debug', false) ? 'debug' : get('log-level', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  const state = get('initial-cluster-state', 'new');
  if (state !== 'new' && state !== 'existing') {
    throw new ConfigError(`--initial-cluster-state must be "new" or "existing", got "${state}"`);
  }
  const name = get('name', 'default');
  const heartbeat = positiveInt('heartbeat-interval', get('heartbeat-interval', '100'));
  const election = positiveInt('election-timeout', get('election-timeout', '1000'));
  if (election < 5 * heartbeat) {
    throw new ConfigError(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${heartbeat}ms]`,
    );
  }
  const catchup = raw.get('snapshot-catchup-entries') ?? get('experimental-snapshot-catchup-entries', '5000');
  const listenPeer = get('listen-peer-urls', 'http://localhost:2380');
  const metricsUrls = raw.get('listen-metrics-urls');
  const listenClientUrls = urls(
    'listen-client-urls',
    get('listen-client-urls', 'http://localhost:2379'),
    true,
  );
  const listenPeerUrls = urls('listen-peer-urls', listenPeer, true);
  // The peer side counts the URLs it serves (the listen URLs, or the advertised ones a member without
  // --listen-peer-urls listens on) and those it dials (--initial-cluster).
  const peerUrls = [
    ...(raw.has('listen-peer-urls') ? listenPeerUrls : []),
    ...get('initial-advertise-peer-urls', 'http://localhost:2380').split(','),
    ...get('initial-cluster', '')
      .split(',')
      .map((m) => m.slice(m.indexOf('=') + 1)),
  ]
    .map((u) => u.trim())
    .filter((u) => splitUrl(u) !== undefined);
  const tls = tlsConfig(raw, warnings, listenClientUrls, [...new Set(peerUrls)]);
  return {
    name,
    dataDir: get('data-dir', '') || `${name}.tetcd`,
    walDir: get('wal-dir', '') || undefined,
    listenClientUrls,
    advertiseClientUrls: urls('advertise-client-urls', get('advertise-client-urls', 'http://localhost:2379')),
    listenPeerUrls,
    initialAdvertisePeerUrls: urls(
      'initial-advertise-peer-urls',
      get('initial-advertise-peer-urls', 'http://localhost:2380'),
    ),
    initialCluster: get('initial-cluster', ''),
    initialClusterState: state,
    initialClusterToken: get('initial-cluster-token', 'etcd-cluster'),
    maxTxnOps: positiveInt('max-txn-ops', get('max-txn-ops', '128')),
    maxRequestBytes: positiveInt('max-request-bytes', get('max-request-bytes', '1572864')),
    logLevel: level,
    heartbeatInterval: heartbeat,
    electionTimeout: election,
    // etcd 3.4 takes 0 as its default.
    snapshotCount: uint('snapshot-count', get('snapshot-count', '100000')) || 100_000,
    snapshotCatchupEntries: uint('snapshot-catchup-entries', catchup) || 5000,
    preVote: bool('pre-vote', true),
    maxSnapshots: uint('max-snapshots', get('max-snapshots', '5')),
    maxWals: uint('max-wals', get('max-wals', '5')),
    forceNewCluster: bool('force-new-cluster', false),
    initialElectionTickAdvance: bool('initial-election-tick-advance', true),
    strictReconfigCheck: bool('strict-reconfig-check', true),
    initialCorruptCheck: bool('experimental-initial-corrupt-check', false),
    corruptCheckTime: parseDuration(
      'experimental-corrupt-check-time',
      get('experimental-corrupt-check-time', '0s'),
    ),
    enablePprof: bool('enable-pprof', false),
    metrics: get('metrics', 'basic'),
    quotaBackendBytes: Number(get('quota-backend-bytes', '0')),
    authToken: get('auth-token', 'simple'),
    authTokenTtl: uint('auth-token-ttl', get('auth-token-ttl', '300')),
    bcryptCost: uint('bcrypt-cost', get('bcrypt-cost', '10')),
    ...autoCompaction(get('auto-compaction-mode', 'periodic'), get('auto-compaction-retention', '0')),
    listenMetricsUrls: metricsUrls ? urls('listen-metrics-urls', metricsUrls, true) : [],
    watchProgressNotifyInterval: positiveDuration(
      'experimental-watch-progress-notify-interval',
      get('experimental-watch-progress-notify-interval', '10m'),
    ),
    listenPeerUrlsGiven: raw.has('listen-peer-urls'),
    // etcd hands 0 to grpc-go, which then has no limit (and announces none).
    maxConcurrentStreams:
      uint('max-concurrent-streams', get('max-concurrent-streams', String(MAX_UINT32)), MAX_UINT32) ||
      MAX_UINT32,
    ...keepalive((f, d) => get(f, d)),
    maxClientConnections: positiveInt('max-client-connections', get('max-client-connections', '4096')),
    ...tls,
  };
}

/**
 * The TLS flags, checked as etcd checks them: an https:// listen URL needs a certificate (or
 * --auto-tls); certificates with only http:// URLs are ignored with etcd's warning; cipher suites by
 * Go's names; TLS versions as etcd 3.5 takes them. The files themselves are read at start
 * (cli/tls_setup.ts), after the data dir exists (--auto-tls writes there).
 */
function tlsConfig(
  raw: Map<string, string>,
  warnings: string[],
  listenClientUrls: string[],
  listenPeerUrls: string[],
): Pick<TetcdConfig, 'clientTls' | 'peerTls' | 'selfSignedCertValidity'> {
  const str = (f: string) => (raw.get(f) ?? '').trim();
  const on = (f: string) => parseBool(raw.get(f) ?? 'false') === true;
  let cipherSuites: string[] | undefined;
  let minVersion, maxVersion;
  try {
    const names = str('cipher-suites')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (names.length) {
      goCipherSuites(names);
      cipherSuites = names;
    }
    minVersion = tlsVersion(raw.get('tls-min-version') ?? 'TLS1.2');
    maxVersion = tlsVersion(str('tls-max-version'));
  } catch (e) {
    if (e instanceof TlsConfigError) throw new ConfigError(e.message);
    throw e;
  }
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') {
    throw new ConfigError(`min version (TLS1.3) is greater than max version (TLS1.2)`);
  }
  if (cipherSuites && minVersion === 'TLSv1.3') {
    throw new ConfigError('cipher suites cannot be configured when only TLS1.3 is enabled');
  }
  const common = { cipherSuites, minVersion, maxVersion };
  const side = (
    which: 'client' | 'peer',
    f: { cert: string; key: string; ca: string; auth: string; crl: string; auto: string; host: string },
    listen: string[],
  ): TlsFlagsConfig | undefined => {
    const certFile = str(f.cert);
    const keyFile = str(f.key);
    const given = certFile !== '' || keyFile !== '';
    let autoTls = on(f.auto);
    if (autoTls && given) {
      warnings.push(`ignoring ${which} auto TLS since certs given`);
      autoTls = false;
    }
    const https = listen.filter((u) => splitUrl(u)!.scheme === 'https');
    const http = listen.filter((u) => splitUrl(u)!.scheme === 'http');
    if (given || autoTls) {
      for (const u of http) {
        if (given) {
          warnings.push(
            `scheme is HTTP while key and cert files are present; ignoring key and cert files (${which}-url ${u})`,
          );
        }
        if (on(f.auth)) {
          warnings.push(
            `scheme is HTTP while --${f.auth} is enabled; ignoring client cert auth for this URL (${which}-url ${u})`,
          );
        }
      }
    }
    if (https.length === 0) return undefined; // etcd uses TLS settings only for https:// URLs
    if (!given && !autoTls) {
      throw new ConfigError(
        which === 'client'
          ? `TLS key/cert (--cert-file, --key-file) must be provided for client url ${https[0]} with HTTPS scheme`
          : `cannot listen on TLS for ${splitUrl(https[0]!)!.host}:${splitUrl(https[0]!)!.port}: KeyFile and CertFile are not presented (--peer-cert-file, --peer-key-file)`,
      );
    }
    if (given && (certFile === '' || keyFile === '')) {
      throw new ConfigError(
        `KeyFile and CertFile must both be present[key: ${keyFile}, cert: ${certFile}] (--${f.key}, --${f.cert})`,
      );
    }
    const allowedCn = which === 'peer' ? str('peer-cert-allowed-cn') : '';
    const peerOnly = () => {
      const clientCertFile = str('peer-client-cert-file');
      const clientKeyFile = str('peer-client-key-file');
      if ((clientCertFile === '') !== (clientKeyFile === '')) {
        throw new ConfigError(
          `ClientKeyFile and ClientCertFile must both be present or both absent: key: ${clientKeyFile}, cert: ${clientCertFile} (--peer-client-key-file, --peer-client-cert-file)`,
        );
      }
      return {
        skipClientSanVerify: on('experimental-peer-skip-client-san-verification'),
        clientCertFile: clientCertFile || undefined,
        clientKeyFile: clientKeyFile || undefined,
      };
    };
    const allowedHostname = str(f.host);
    if (allowedCn !== '' && allowedHostname !== '') {
      throw new ConfigError(
        `AllowedCN and AllowedHostname are mutually exclusive (cn="${allowedCn}", hostname="${allowedHostname}")`,
      );
    }
    return {
      certFile,
      keyFile,
      autoTls,
      trustedCaFile: str(f.ca) || undefined,
      clientCertAuth: on(f.auth),
      crlFile: str(f.crl) || undefined,
      allowedCn: allowedCn || undefined,
      allowedHostname: allowedHostname || undefined,
      ...common,
      ...(which === 'peer' ? peerOnly() : {}),
    };
  };
  return {
    clientTls: side(
      'client',
      {
        cert: 'cert-file',
        key: 'key-file',
        ca: 'trusted-ca-file',
        auth: 'client-cert-auth',
        crl: 'client-crl-file',
        auto: 'auto-tls',
        host: 'client-cert-allowed-hostname',
      },
      listenClientUrls,
    ),
    peerTls: side(
      'peer',
      {
        cert: 'peer-cert-file',
        key: 'peer-key-file',
        ca: 'peer-trusted-ca-file',
        auth: 'peer-client-cert-auth',
        crl: 'peer-crl-file',
        auto: 'peer-auto-tls',
        host: 'peer-cert-allowed-hostname',
      },
      listenPeerUrls,
    ),
    selfSignedCertValidity: uint('self-signed-cert-validity', str('self-signed-cert-validity') || '1') || 1,
  };
}

/** The auto-compaction flags, refused with etcd's words when the compactor could not take them. */
function autoCompaction(mode: string, retention: string) {
  try {
    checkCompactionMode(mode);
  } catch (e) {
    throw new ConfigError(`error verifying flags, ${(e as Error).message}`);
  }
  try {
    parseCompactionRetention(mode, retention);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  return { autoCompactionMode: mode, autoCompactionRetention: retention };
}

function positiveDuration(flag: string, v: string): number {
  const ms = parseDuration(flag, v);
  if (ms <= 0) throw new ConfigError(`--${flag} must be a positive duration, got "${v}"`);
  return ms;
}

/**
 * The keepalive settings as etcd 3.4 hands them to grpc-go 1.33: a min time of 0 or less sets no
 * enforcement policy, and grpc-go's own (5 minutes) applies; an interval or a timeout of 0 or less
 * sets no server parameters, and grpc-go's own apply (2 h, 20 s): "0 to disable" disables nothing.
 */
function keepalive(get: (f: string, def: string) => string) {
  const min = parseDuration('grpc-keepalive-min-time', get('grpc-keepalive-min-time', '5s'));
  const interval = parseDuration('grpc-keepalive-interval', get('grpc-keepalive-interval', '2h'));
  const timeout = parseDuration('grpc-keepalive-timeout', get('grpc-keepalive-timeout', '20s'));
  const params = interval > 0 && timeout > 0;
  return {
    grpcKeepAliveMinTime: min > 0 ? min : 5 * 60_000,
    grpcKeepAliveInterval: params ? interval : 2 * 3_600_000,
    grpcKeepAliveTimeout: params ? timeout : 20_000,
  };
}
