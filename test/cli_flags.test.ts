// Every etcd flag is recognised: docs/flags.md's table agrees with the parser (flag_table.ts), and
// tetcd starts with every flag of etcd 3.4's `etcd --help` given at once (sensible values), as flags,
// as ETCD_* variables and as config-file keys; an https:// URL without a certificate refuses with one line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLAG_TABLE, FLAG_BY_NAME, envName, statusText, type FlagInfo } from '../src/cli/flag_table.ts';
import { ConfigError, parseConfig } from '../src/cli/config.ts';
import { freePort } from './helpers/procs.ts';
import { logMessages, plainLines, runTetcd, startTetcd } from './helpers/cli_run.ts';

const DOC = new URL('../docs/flags.md', import.meta.url);

/** docs/flags.md's table rows: flag -> [etcd releases, status]. */
function docTable(): Map<string, { etcd: string; status: string }> {
  const rows = new Map<string, { etcd: string; status: string }>();
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const m = /^\| `--([a-z0-9-]+)` \| ([^|]*) \| ([^|]*) \|/.exec(line);
    if (m) rows.set(m[1]!, { etcd: m[2]!.trim(), status: m[3]!.trim() });
  }
  return rows;
}

/** etcd 3.5.x's flags (server/etcdmain/config.go of v3.5.33, less the 3.4 ones): all must be known. */
const ETCD_35_ONLY = [
  'backend-bbolt-freelist-type',
  'client-cert-file',
  'client-key-file',
  'enable-log-rotation',
  'experimental-bootstrap-defrag-threshold-megabytes',
  'experimental-compact-hash-check-enabled',
  'experimental-compact-hash-check-time',
  'experimental-compaction-sleep-interval',
  'experimental-distributed-tracing-address',
  'experimental-distributed-tracing-instance-id',
  'experimental-distributed-tracing-sampling-rate',
  'experimental-distributed-tracing-service-name',
  'experimental-downgrade-check-time',
  'experimental-enable-distributed-tracing',
  'experimental-memory-mlock',
  'experimental-snapshot-catchup-entries',
  'experimental-stop-grpc-service-on-defrag',
  'experimental-txn-mode-write-with-shared-buffer',
  'log-rotation-config-json',
  'peer-client-cert-file',
  'peer-client-key-file',
  'raft-read-timeout',
  'raft-write-timeout',
  'self-signed-cert-validity',
  'socket-reuse-address',
  'socket-reuse-port',
  'tls-max-version',
  'tls-min-version',
  'v2-deprecation',
];

/** The flags of the installed etcd's --help (etcd 3.4.23), or the table's 3.4 flags without etcd. */
function etcd34HelpFlags(): string[] {
  const r = spawnSync('etcd', ['--help'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) {
    console.error('!! etcd not installed: the flags of etcd 3.4 --help are taken from flag_table.ts');
    return FLAG_TABLE.filter((f) => f.etcd.includes('3.4')).map((f) => f.flag);
  }
  const out = new Set<string>();
  for (const m of (r.stdout + r.stderr).matchAll(/^ {2}--([a-z0-9-]+) /gm)) out.add(m[1]!);
  out.delete('config-file');
  return [...out];
}

/** A value of the flag's kind that parses (and, for a refused flag, asks for what it refuses). */
function sample(f: FlagInfo): string {
  const special: Record<string, string> = {
    'heartbeat-interval': '100',
    'election-timeout': '1000',
    'initial-cluster-state': 'existing',
    'log-level': 'warn',
    proxy: 'on',
    'max-concurrent-streams': '100',
    'auto-compaction-mode': 'revision',
    'auto-compaction-retention': '1000',
    'cipher-suites': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    'tls-min-version': 'TLS1.3',
    'tls-max-version': 'TLS1.3',
  };
  if (special[f.flag]) return special[f.flag]!;
  switch (f.kind) {
    case 'bool':
      return 'true';
    case 'duration':
      return '3s';
    case 'urls':
      return 'http://127.0.0.1:1';
    case 'string':
    case 'list':
      return 'x';
    default:
      return '7';
  }
}

describe('docs/flags.md and the parser agree', () => {
  const doc = docTable();

  test('every flag of etcd 3.4 --help, etcd 3.5 and the parser is in the table with its status', () => {
    for (const f of [...etcd34HelpFlags(), ...ETCD_35_ONLY])
      assert.ok(doc.has(f), `--${f} missing in docs/flags.md`);
    for (const f of FLAG_TABLE) {
      const row = doc.get(f.flag);
      assert.ok(row, `--${f.flag} (known to the parser) missing in docs/flags.md`);
      assert.equal(row.status, statusText(f), `--${f.flag}`);
      assert.equal(row.etcd, f.etcd, `--${f.flag}`);
    }
    assert.equal(doc.size, FLAG_TABLE.length, 'a row of docs/flags.md names a flag the parser does not know');
  });

  test('each flag is recognised as a flag, as ETCD_<FLAG> and as a config-file key with the status the table states', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tetcd-flag-rows-'));
    const file = join(dir, 'etcd.yaml');
    try {
      for (const [flag, row] of doc) {
        const f = FLAG_BY_NAME.get(flag)!;
        const refused = row.status.startsWith('refused when set');
        // A refused flag's neutral value is accepted (and reported as having no meaning).
        const values = refused
          ? [sample(f), f.flag === 'proxy' ? 'off' : f.kind === 'bool' ? 'false' : '']
          : [sample(f)];
        for (const v of values) {
          // etcd wants the advertised client URLs whenever the listened ones are given.
          const adv = flag === 'listen-client-urls' ? { ETCD_ADVERTISE_CLIENT_URLS: v } : {};
          writeFileSync(file, `${flag}: ${f.kind === 'bool' ? v || 'false' : JSON.stringify(v)}\n`);
          const ways: [string, string[], Record<string, string>][] = [
            ['flag', [`--${flag}=${v}`], adv],
            ['env', [], { [envName(flag)]: v, ...adv }],
            ['file', ['--config-file', file], {}],
          ];
          for (const [way, argv, env] of ways) {
            const how = `--${flag}=${v} as ${way} (${row.status})`;
            if (refused && v === values[0]) {
              assert.throws(() => parseConfig(argv, env), ConfigError, how);
              continue;
            }
            const p = parseConfig(argv, env);
            // TLS settings given with http:// URLs only are ignored with etcd's warning.
            if (!(f.group === 'Security' && f.issue === 13)) assert.deepEqual(p.warnings, [], how);
            if (row.status === 'implemented') {
              assert.deepEqual([p.ignored, p.pending], [[], []], how);
            } else if (row.status === 'accepted, no meaning here' || refused) {
              // An empty environment variable counts as unset, as in etcd.
              assert.deepEqual([p.ignored, p.pending], [way === 'env' && v === '' ? [] : [flag], []], how);
            } else {
              const issue = Number(/\(issue (\d+)\)/.exec(row.status)![1]);
              assert.deepEqual([p.ignored, p.pending], [[], [{ flag, issue }]], how);
            }
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tetcd starts with every flag of etcd 3.4 --help', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tetcd-flags-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Sensible values for every flag of etcd 3.4's help, TLS ones neutral (as manifests pass them). */
  function values(client: number, peer: number, name: string, metricsPort: number): Map<string, string> {
    const c = `http://127.0.0.1:${client}`;
    const p = `http://127.0.0.1:${peer}`;
    const v: Record<string, string> = {
      name,
      'data-dir': join(dir, name),
      'wal-dir': join(dir, `${name}-wal`),
      'snapshot-count': '10000',
      'heartbeat-interval': '100',
      'election-timeout': '1000',
      'initial-election-tick-advance': 'true',
      'listen-peer-urls': p,
      'listen-client-urls': c,
      'max-snapshots': '5',
      'max-wals': '5',
      'quota-backend-bytes': '8589934592',
      'backend-batch-interval': '100ms',
      'backend-batch-limit': '10000',
      'max-txn-ops': '128',
      'max-request-bytes': '1572864',
      'max-concurrent-streams': '1000',
      'grpc-keepalive-min-time': '5s',
      'grpc-keepalive-interval': '2h',
      'grpc-keepalive-timeout': '20s',
      'initial-advertise-peer-urls': p,
      'initial-cluster': `${name}=${p}`,
      'initial-cluster-state': 'new',
      'initial-cluster-token': 'flags-test',
      'advertise-client-urls': c,
      discovery: '',
      'discovery-fallback': 'exit',
      'discovery-proxy': '',
      'discovery-srv': '',
      'discovery-srv-name': '',
      'strict-reconfig-check': 'true',
      'pre-vote': 'true',
      'auto-compaction-retention': '1',
      'auto-compaction-mode': 'periodic',
      'enable-v2': 'false',
      'cert-file': '',
      'key-file': '',
      'client-cert-auth': 'false',
      'client-crl-file': '',
      'client-cert-allowed-hostname': '',
      'trusted-ca-file': '',
      'auto-tls': 'false',
      'peer-cert-file': '',
      'peer-key-file': '',
      'peer-client-cert-auth': 'false',
      'peer-trusted-ca-file': '',
      'peer-cert-allowed-cn': '',
      'peer-cert-allowed-hostname': '',
      'peer-auto-tls': 'false',
      'peer-crl-file': '',
      'cipher-suites': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      cors: '*',
      'host-whitelist': '*',
      'auth-token': 'simple',
      'bcrypt-cost': '10',
      'auth-token-ttl': '300',
      'enable-pprof': 'true',
      metrics: 'extensive',
      'listen-metrics-urls': `http://127.0.0.1:${metricsPort}`,
      logger: 'zap',
      'log-outputs': 'stderr',
      'log-level': 'warn',
      proxy: 'off',
      'proxy-failure-wait': '5000',
      'proxy-refresh-interval': '30000',
      'proxy-dial-timeout': '1000',
      'proxy-write-timeout': '5000',
      'proxy-read-timeout': '0',
      'experimental-initial-corrupt-check': 'true',
      'experimental-corrupt-check-time': '1m',
      'experimental-enable-v2v3': '/v2/',
      'experimental-backend-bbolt-freelist-type': 'map',
      'experimental-enable-lease-checkpoint': 'true',
      'experimental-compaction-batch-limit': '1000',
      'experimental-peer-skip-client-san-verification': 'false',
      'experimental-watch-progress-notify-interval': '10m',
      'experimental-warning-apply-duration': '100ms',
      'force-new-cluster': 'false',
      debug: 'false',
      'log-package-levels': 'etcdmain=INFO',
    };
    const flags = etcd34HelpFlags();
    for (const f of flags) assert.ok(f in v, `the test has no value for --${f} of etcd --help`);
    return new Map(flags.map((f) => [f, v[f]!]));
  }

  function checkWarnings(stderr: string): void {
    const warns = logMessages(stderr, 'warn');
    const pending = warns.find((m) => m.startsWith('flags accepted, not in effect yet: '));
    assert.ok(pending, stderr);
    for (const f of ['--experimental-compaction-batch-limit (issue 14)']) {
      assert.ok(pending.includes(f), `${f} in ${pending}`);
    }
    const ignored = warns.find((m) => m.startsWith('flags accepted, with no meaning in tetcd'));
    assert.ok(ignored?.includes('--enable-v2') && ignored.includes('--log-package-levels'), ignored);
    assert.ok(!warns.some((m) => m.startsWith('unrecognized environment variable')), warns.join('\n'));
    assert.deepEqual(plainLines(stderr), []);
  }

  test('as flags', async () => {
    const client = await freePort();
    const metricsPort = await freePort();
    const v = values(client, await freePort(), 'asflags', metricsPort);
    const h = await startTetcd(
      [...v].map(([f, x]) => `--${f}=${x}`),
      {},
      client,
    );
    try {
      checkWarnings(h.stderr());
      // --listen-metrics-urls serves /metrics (with --metrics extensive's histogram) and /health.
      const m = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, {
        signal: AbortSignal.timeout(10_000),
      });
      const text = await m.text();
      assert.match(text, /^etcd_server_has_leader 1$/m);
      assert.match(text, /^# TYPE grpc_server_handling_seconds histogram$/m);
      const health = await fetch(`http://127.0.0.1:${metricsPort}/health`, {
        signal: AbortSignal.timeout(10_000),
      });
      assert.deepEqual(await health.json(), { health: 'true' });
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });

  test('as ETCD_* environment variables', async () => {
    const client = await freePort();
    const v = values(client, await freePort(), 'asenv', await freePort());
    const env = Object.fromEntries([...v].map(([f, x]) => [envName(f), x]));
    const h = await startTetcd([], env, client);
    try {
      checkWarnings(h.stderr());
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });

  test('as config-file keys (durations as nanoseconds, lists as sequences, as etcd writes them)', async () => {
    const client = await freePort();
    const v = values(client, await freePort(), 'asfile', await freePort());
    const lines: string[] = [];
    for (const [f, x] of v) {
      const info = FLAG_BY_NAME.get(f)!;
      if (info.kind === 'bool') lines.push(`${f}: ${x}`);
      else if (info.kind === 'duration' && /^\d+ms$/.test(x))
        lines.push(`${f}: ${Number(x.slice(0, -2)) * 1e6}`);
      else if (f === 'log-outputs' || f === 'cipher-suites') lines.push(`${f}: [${JSON.stringify(x)}]`);
      else lines.push(`${f}: ${JSON.stringify(x)}`);
    }
    const file = join(dir, 'etcd.conf.yml');
    writeFileSync(file, lines.join('\n') + '\n');
    const h = await startTetcd(['--config-file', file], {}, client);
    try {
      checkWarnings(h.stderr());
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });

  test("an https:// URL without a certificate refuses with etcd's line; nothing is created", async () => {
    const client = await freePort();
    const https = await runTetcd([
      `--data-dir=${join(dir, 'tls')}`,
      `--listen-client-urls=https://127.0.0.1:${client}`,
      `--advertise-client-urls=https://127.0.0.1:${client}`,
    ]);
    assert.equal(https.code, 1, https.stderr);
    assert.deepEqual(plainLines(https.stderr), [
      `tetcd: TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:${client} with HTTPS scheme. See 'tetcd --help'.`,
    ]);
    assert.equal(existsSync(join(dir, 'tls')), false, 'the data dir was created');
  });

  test('discovery and the v2 proxy refuse when asked for; an unknown ETCD_* variable is warned about as etcd does', async () => {
    const r1 = await runTetcd(['--discovery=https://discovery.etcd.io/abc']);
    assert.equal(r1.code, 1);
    assert.deepEqual(plainLines(r1.stderr), [
      "tetcd: --discovery is not supported (no discovery bootstrap): bootstrap with --initial-cluster instead. See 'tetcd --help'.",
    ]);
    const r2 = await runTetcd([], { ETCD_PROXY: 'readonly' });
    assert.equal(r2.code, 1);
    assert.deepEqual(plainLines(r2.stderr), [
      "tetcd: --proxy=readonly is not supported (tetcd has no v2 proxy): remove it or give --proxy=off. See 'tetcd --help'.",
    ]);
    const r3 = await runTetcd(['--name', 'a'], { ETCD_NAME: 'b' });
    assert.equal(r3.code, 1);
    assert.deepEqual(plainLines(r3.stderr), [
      `tetcd: conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag (either unset environment variable or disable flag). See 'tetcd --help'.`,
    ]);
    const r4 = await runTetcd(['--bogus-flag']);
    assert.equal(r4.code, 2);
    assert.deepEqual(plainLines(r4.stderr), [
      "tetcd: flag provided but not defined: -bogus-flag. See 'tetcd --help'.",
    ]);
    const client = await freePort();
    const h = await startTetcd(
      [
        `--data-dir=${join(dir, 'warn')}`,
        `--listen-client-urls=http://127.0.0.1:${client}`,
        `--advertise-client-urls=http://127.0.0.1:${client}`,
      ],
      { ETCD_NO_SUCH_FLAG: 'x' },
      client,
    );
    try {
      assert.ok(
        logMessages(h.stderr(), 'warn').includes('unrecognized environment variable ETCD_NO_SUCH_FLAG=x'),
        h.stderr(),
      );
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });

  test('--help lists every flag not hidden, grouped as etcd groups them', async () => {
    const r = await runTetcd(['--help']);
    assert.equal(r.code, 0);
    for (const g of ['Member:', 'Clustering:', 'Security:', 'Auth:', 'Logging:', 'Experimental feature:'])
      assert.match(r.stdout, new RegExp(`^${g}$`, 'm'));
    for (const f of FLAG_TABLE.filter((x) => !x.hidden))
      assert.match(r.stdout, new RegExp(`^  --${f.flag} '`, 'm'));
  });
});
