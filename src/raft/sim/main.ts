// CLI of the simulator:  npm run sim -- --seeds N [--first-seed S] [--nodes 3|5] [--seed S]
//   --seeds N       run seeds S..S+N-1 and print one line per failing seed plus a summary line
//   --seed S        replay one seed and print its trace, one event per line
//   --chaos-ticks T / --heal-ticks H   change the length of the faulty and the healed stretch
//   --sabotage forget-vote|send-before-sync   a deliberate driver bug, to see the checks catch it
import { runSeed, DEFAULT_OPTIONS, type SimOptions } from './sim.ts';
import { emptyStats, type Sabotage, type SimStats } from './node.ts';

function usage(msg: string): never {
  process.stderr.write(
    `${msg}\nusage: npm run sim -- --seeds N [--first-seed S] [--nodes 3|5] [--chaos-ticks T] [--heal-ticks H]\n` +
      `       npm run sim -- --seed S [--nodes 3|5]   (replay one seed with its trace)\n`,
  );
  process.exit(2);
}

let sabotage: Sabotage | undefined;

function parse(argv: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) usage(`unexpected argument ${a}`);
    const v = argv[++i];
    if (a === '--sabotage') {
      if (v !== 'forget-vote' && v !== 'send-before-sync') usage('--sabotage forget-vote|send-before-sync');
      sabotage = v;
      continue;
    }
    if (v === undefined || !/^\d+$/.test(v)) usage(`${a} needs a non-negative integer`);
    out.set(a.slice(2), Number(v));
  }
  return out;
}

const args = parse(process.argv.slice(2));
for (const k of args.keys()) {
  if (!['seeds', 'first-seed', 'nodes', 'seed', 'chaos-ticks', 'heal-ticks'].includes(k))
    usage(`unknown option --${k}`);
}
const nodes = args.get('nodes') ?? 3;
if (nodes !== 3 && nodes !== 5) usage('--nodes must be 3 or 5');
const opts: Partial<SimOptions> = {
  nodes,
  chaosTicks: args.get('chaos-ticks') ?? DEFAULT_OPTIONS.chaosTicks,
  healTicks: args.get('heal-ticks') ?? DEFAULT_OPTIONS.healTicks,
};
if (sabotage !== undefined) opts.sabotage = sabotage;

const single = args.get('seed');
if (single !== undefined) {
  const r = runSeed(single, { ...opts, trace: (l) => process.stdout.write(l + '\n') });
  const v = r.violation !== undefined ? 1 : 0;
  const l = r.liveness !== undefined ? 1 : 0;
  if (r.violation !== undefined) process.stdout.write(`seed ${single}: ${r.violation}\n`);
  if (r.liveness !== undefined) process.stdout.write(`seed ${single}: liveness: ${r.liveness}\n`);
  process.stdout.write(`seeds: 1, steps: ${r.steps}, violations: ${v}, liveness failures: ${l}\n`);
  process.exit(v + l > 0 ? 1 : 0);
}

const count = args.get('seeds');
if (count === undefined) usage('give --seeds N or --seed S');
const first = args.get('first-seed') ?? 1;
let steps = 0;
let violations = 0;
let liveness = 0;
const total: SimStats = emptyStats();
const started = performance.now();
for (let s = first; s < first + count; s++) {
  const r = runSeed(s, opts);
  steps += r.steps;
  for (const k of Object.keys(total) as (keyof SimStats)[]) total[k] += r.stats[k];
  if (r.violation !== undefined) {
    violations++;
    process.stdout.write(`seed ${s}: ${r.violation.split('\n')[0]}\n`);
  } else if (r.liveness !== undefined) {
    liveness++;
    process.stdout.write(`seed ${s}: liveness: ${r.liveness}\n`);
  }
}
const secs = (performance.now() - started) / 1000;
process.stderr.write(
  `exercised: ${Object.entries(total)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}\n`,
);
process.stderr.write(
  `${secs.toFixed(1)} s, ${(count / secs).toFixed(1)} seeds/s, ${Math.round(steps / count)} steps/seed\n`,
);
process.stdout.write(
  `seeds: ${count}, steps: ${steps}, violations: ${violations}, liveness failures: ${liveness}\n`,
);
process.exit(violations + liveness > 0 ? 1 : 0);
