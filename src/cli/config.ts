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
}

export class ConfigError extends Error {}

interface FlagSpec {
  flag: string;
  key: keyof TetcdConfig;
  help: string;
  def: string;
}

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
      raw[k] = Array.isArray(v) ? v.join(',') : String(v);
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
