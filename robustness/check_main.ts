// tetcd-check robustness --endpoints A,B,C [--prefix P] [--duration 60s] [--clients N]
// Runs the robustness suite's traffic and checkers against a running cluster (tetcd or etcd), without
// injecting any fault: KV clients (one per endpoint in turn) and a watcher per endpoint, inside a key
// prefix that must be empty and is deleted afterwards; then linearizability and the watch guarantees.
import { parseArgs } from 'node:util';
import { toNumber } from '../src/proto/index.ts';
import { Client } from '../test/helpers/client.ts';
import { checkLinearizable, settleUnknown } from './checker/linearizable.ts';
import { checkWatchers } from './checker/watch.ts';
import type { Violation } from './history.ts';
import { Rng } from './rand.ts';
import { KvClient, Recorder, Watcher } from './traffic.ts';

const HELP = `usage: tetcd-check robustness --endpoints host:port[,host:port..] [--prefix /tetcd-check/]
                    [--duration 60s] [--clients 4] [--seed N]

Sends a mix of requests (put, linearizable get, delete, txn with one compare) from several clients,
one endpoint each, and watches the prefix on every endpoint; then checks that what the clients saw is
linearizable and that every watcher saw every acknowledged write once, in order, with its value.

What it does to the cluster: it writes only keys under --prefix, which must hold no key when it starts
(it refuses otherwise), at about the rate the cluster answers 4 clients sending one request at a time,
and deletes every key under the prefix at the end (one more revision). It compacts nothing and injects
no fault. Exit 0 when no violation is found, 1 when one is, 2 on a usage or connection error.
`;

function fail(msg: string): never {
  process.stderr.write(`tetcd-check: ${msg}\n`);
  process.exit(2);
}

function duration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) fail(`--duration must be like 60s, 500ms or 2m, not ${s}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function robustness(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        endpoints: { type: 'string' },
        prefix: { type: 'string', default: '/tetcd-check/' },
        duration: { type: 'string', default: '60s' },
        clients: { type: 'string', default: '4' },
        seed: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!v.endpoints) fail('--endpoints is required');
  const endpoints = v.endpoints.split(',').map((e) => e.replace(/^https?:\/\//, ''));
  const prefix = v.prefix!;
  if (prefix === '') fail('--prefix must not be empty');
  const ms = duration(v.duration!);
  const nClients = Number(v.clients);
  if (!Number.isInteger(nClients) || nClients < 1)
    fail(`--clients must be a positive integer, not ${v.clients}`);
  const seed = v.seed === undefined ? Math.floor(Math.random() * 1e9) : Number(v.seed);
  const admin = new Client(endpoints[0]!);
  const end = Buffer.from(prefix);
  end[end.length - 1]!++;
  let fromRev: number;
  try {
    const r = await admin.call(
      'etcdserverpb.KV',
      'Range',
      { key: Buffer.from(prefix), rangeEnd: end, countOnly: true },
      5000,
    );
    const n = toNumber(r['count']);
    if (n > 0)
      fail(
        `prefix ${prefix} holds ${n} key${n === 1 ? '' : 's'}; choose one with no key (it is deleted afterwards)`,
      );
    fromRev = toNumber(r['header']?.revision);
  } catch (e) {
    admin.close();
    fail(`cannot read ${prefix} on ${endpoints[0]}: ${(e as Error).message}`);
  }
  const rng = new Rng(seed);
  const rec = new Recorder();
  const watchers = endpoints.map((e) => new Watcher(`watcher@${e}`, e, fromRev + 1, prefix));
  for (const w of watchers) w.start();
  const clients = Array.from(
    { length: nClients },
    (_, i) =>
      new KvClient(i, endpoints[i % endpoints.length]!, rng.fork(100 + i), rec, `s${seed}-`, false, prefix),
  );
  process.stdout.write(
    `tetcd-check: ${nClients} clients and ${watchers.length} watchers on ${prefix} for ${ms / 1000} s (seed ${seed})\n`,
  );
  for (const c of clients) c.start();
  await sleep(ms);
  await Promise.all(clients.map((c) => c.stop()));
  const violations: Violation[] = [];
  try {
    // One last write the watchers must all reach: then each has seen every revision of the prefix.
    const last = await admin.call(
      'etcdserverpb.KV',
      'Put',
      { key: Buffer.from(`${prefix}end`), value: Buffer.from('end') },
      10_000,
    );
    const finalRev = toNumber(last['header']?.revision);
    const until = performance.now() + 15_000;
    while (watchers.some((w) => w.lastRev < finalRev) && performance.now() < until) await sleep(100);
    for (const w of watchers)
      if (w.lastRev < finalRev)
        violations.push({
          checker: 'watch',
          what: `${w.name} did not reach rev ${finalRev} within 15 s`,
          excerpt: [`last event at rev ${w.lastRev}`],
        });
    const logs = watchers.map((w) => w.log(Math.min(finalRev, w.lastRev)));
    const ops = rec.ops.concat({
      id: rec.ops.length,
      client: -1,
      req: { kind: 'put', key: `${prefix}end`, value: 'end' },
      call: rec.now(),
      ret: rec.now(),
      resp: { kind: 'put', rev: finalRev },
    });
    const lin = checkLinearizable(settleUnknown(ops, logs, finalRev, fromRev));
    violations.push(...lin.violations, ...checkWatchers(ops, logs));
    const failed = rec.ops.filter((o) => !o.resp).length;
    process.stdout.write(
      `tetcd-check: ${rec.ops.length} operations (${failed} failed or timed out), revisions ${fromRev + 1}..${finalRev}` +
        (lin.unknownKeys.length ? `, search bound reached on ${lin.unknownKeys.join(', ')}` : '') +
        '\n',
    );
  } finally {
    for (const w of watchers) w.stop();
    await admin
      .call('etcdserverpb.KV', 'DeleteRange', { key: Buffer.from(prefix), rangeEnd: end }, 10_000)
      .catch((e: unknown) => {
        process.stderr.write(`tetcd-check: could not delete ${prefix}: ${(e as Error).message}\n`);
      });
    admin.close();
  }
  for (const x of violations) {
    process.stdout.write(`VIOLATION (${x.checker}): ${x.what}\n`);
    for (const l of x.excerpt) process.stdout.write(`  ${l}\n`);
  }
  process.stdout.write(`tetcd-check: violations ${violations.length}\n`);
  return violations.length === 0 ? 0 : 1;
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
  process.stdout.write(HELP);
  process.exit(0);
}
if (cmd !== 'robustness') fail(`unknown command ${cmd} (the one command is: robustness)`);
robustness(rest).then(
  (code) => process.exit(code),
  (e: unknown) => fail((e as Error).message),
);
