// npm run robustness -- --scenario S[,S..] --runs N --seed X [--target tetcd|etcd] [--sabotage B] [--keep]
// Runs each scenario N times (run i of a scenario uses seed X+i), prints each run and each violation
// (with the part of the history that shows it and the command that replays it), and ends with
//   robustness: runs R, operations O, faults F, violations V
// Exit 0 only when V = 0 and every run completed.
import { parseArgs } from 'node:util';
import { runOnce } from './run.ts';
import { NOT_BUILT, SCENARIOS, type Scenario } from './scenarios.ts';

/** stale-read, watch-skip: the server's (tetcd only, src/pkg/sabotage.ts); serializable-read: the clients'. */
const SABOTAGES = ['stale-read', 'watch-skip', 'serializable-read'];

function fail(msg: string): never {
  process.stderr.write(`robustness: ${msg}\n`);
  process.exit(2);
}

function options() {
  let v;
  try {
    v = parseArgs({
      options: {
        scenario: { type: 'string' },
        runs: { type: 'string', default: '1' },
        seed: { type: 'string' },
        target: { type: 'string', default: 'tetcd' },
        sabotage: { type: 'string' },
        clients: { type: 'string', default: '4' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
  if (v.help) {
    process.stdout.write(
      `usage: npm run robustness -- --scenario S[,S..] [--runs N] [--seed X] [--target tetcd|etcd] [--sabotage B] [--keep]\n` +
        `scenarios: ${SCENARIOS.join(', ')} (not built yet: ${NOT_BUILT.join(', ')})\n` +
        `sabotage, to show the checkers catch it: stale-read (tetcd serves linearizable reads without\n` +
        `  the ReadIndex barrier), watch-skip (one tetcd watcher misses one revision), serializable-read\n` +
        `  (the clients ask for local reads; tetcd or etcd)\n`,
    );
    process.exit(0);
  }
  if (!v.scenario) fail('--scenario is required (one or more of ' + SCENARIOS.join(', ') + ')');
  const scenarios = v.scenario.split(',');
  for (const s of scenarios)
    if (!(SCENARIOS as readonly string[]).includes(s))
      fail(
        NOT_BUILT.includes(s)
          ? `scenario ${s} is not built yet`
          : `unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`,
      );
  const runs = Number(v.runs);
  if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer, not ${v.runs}`);
  const clients = Number(v.clients);
  if (!Number.isInteger(clients) || clients < 1)
    fail(`--clients must be a positive integer, not ${v.clients}`);
  const seed = v.seed === undefined ? Math.floor(Math.random() * 1e9) : Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, not ${v.seed}`);
  if (v.target !== 'tetcd' && v.target !== 'etcd') fail(`--target must be tetcd or etcd, not ${v.target}`);
  if (v.sabotage !== undefined && !SABOTAGES.includes(v.sabotage))
    fail(`unknown sabotage ${v.sabotage} (one of ${SABOTAGES.join(', ')})`);
  if (v.sabotage !== undefined && v.sabotage !== 'serializable-read' && v.target !== 'tetcd')
    fail(`--sabotage ${v.sabotage} works on tetcd only`);
  return {
    scenarios: scenarios as Scenario[],
    runs,
    seed,
    target: v.target as 'tetcd' | 'etcd',
    sabotage: v.sabotage,
    keep: v.keep ?? false,
    clients,
  };
}

async function main(): Promise<void> {
  const o = options();
  let runs = 0;
  let operations = 0;
  let faults = 0;
  let violations = 0;
  let errors = 0;
  const replay = (s: string, seed: number) =>
    `npm run robustness -- --scenario ${s} --runs 1 --seed ${seed} --target ${o.target}` +
    (o.sabotage ? ` --sabotage ${o.sabotage}` : '');
  for (const scenario of o.scenarios) {
    for (let i = 0; i < o.runs; i++) {
      const seed = o.seed + i;
      const head = `run ${runs + 1} (${scenario}, seed ${seed}, ${o.target}${o.sabotage ? `, sabotage ${o.sabotage}` : ''})`;
      let r;
      try {
        r = await runOnce({
          scenario,
          seed,
          target: o.target,
          sabotage: o.sabotage,
          keep: o.keep,
          clients: o.clients,
        });
      } catch (e) {
        errors++;
        runs++;
        process.stdout.write(
          `${head}: did not complete: ${(e as Error).message}\n  replay: ${replay(scenario, seed)}\n`,
        );
        continue;
      }
      runs++;
      operations += r.operations;
      faults += r.faults;
      violations += r.violations.length;
      process.stdout.write(
        `${head}: ${r.operations} operations (${r.failed} failed or timed out), fault: ${r.fault}; ` +
          `${r.violations.length} violations, ${(r.ms / 1000).toFixed(1)} s` +
          (r.notes.length ? ` [${r.notes.join('; ')}]` : '') +
          (o.keep ? `\n  kept: ${r.dir}` : '') +
          '\n',
      );
      for (const v of r.violations) {
        process.stdout.write(`  VIOLATION (${v.checker}): ${v.what}\n`);
        for (const l of v.excerpt) process.stdout.write(`    ${l}\n`);
        process.stdout.write(`    replay: ${replay(scenario, seed)}\n`);
      }
    }
  }
  process.stdout.write(
    `robustness: runs ${runs}, operations ${operations}, faults ${faults}, violations ${violations}\n`,
  );
  process.exit(violations === 0 && errors === 0 ? 0 : 1);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
main().catch((e: unknown) => fail((e as Error).message));
