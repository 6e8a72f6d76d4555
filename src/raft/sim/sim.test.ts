// The simulator over the real raft core: many seeds with faults must show no safety violation and no
// liveness failure; a seed must replay exactly; and sabotage must be caught (the checks bite).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed, type SeedResult } from './sim.ts';
import { Prng } from './prng.ts';

function runMany(first: number, count: number, nodes: number): { failures: string[]; steps: number } {
  const failures: string[] = [];
  let steps = 0;
  for (let s = first; s < first + count; s++) {
    const r: SeedResult = runSeed(s, { nodes });
    steps += r.steps;
    if (r.violation !== undefined) failures.push(`seed ${s} (nodes ${nodes}): ${r.violation.split('\n')[0]}`);
    if (r.liveness !== undefined) failures.push(`seed ${s} (nodes ${nodes}): liveness: ${r.liveness}`);
  }
  return { failures, steps };
}

describe('raft simulator', () => {
  test('800 seeds of 3 nodes: no violations, no liveness failures', () => {
    const { failures, steps } = runMany(1, 800, 3);
    assert.deepEqual(failures, []);
    assert.ok(steps > 800 * 500, `only ${steps} steps`);
  });

  test('400 seeds of 5 nodes: no violations, no liveness failures', () => {
    const { failures } = runMany(100_001, 400, 5);
    assert.deepEqual(failures, []);
  });

  test('seeds where a node crashed before syncing a higher commit pass (once misjudged by the checker)', () => {
    for (const seed of [18_955, 41_782]) {
      const r = runSeed(seed, { nodes: 3 });
      assert.equal(r.violation, undefined, `seed ${seed}`);
      assert.equal(r.liveness, undefined, `seed ${seed}`);
    }
  });

  test('a node whose old voters were all removed rejoins after healing (seed 88237 once hung)', () => {
    const r = runSeed(88_237, { nodes: 3 });
    assert.equal(r.violation, undefined);
    assert.equal(r.liveness, undefined);
  });

  test('a seed replays exactly (same trace, same result)', () => {
    const a: string[] = [];
    const b: string[] = [];
    const ra = runSeed(42, { trace: (l) => a.push(l) });
    const rb = runSeed(42, { trace: (l) => b.push(l) });
    assert.ok(a.length > 100);
    assert.deepEqual(a, b);
    assert.deepEqual(ra, rb);
    // And tracing does not change the run.
    assert.deepEqual(runSeed(42), ra);
  });

  test('a disk that forgets votes on crash is caught', () => {
    let caught = 0;
    for (let s = 1; s <= 150 && caught === 0; s++) {
      if (runSeed(s, { sabotage: 'forget-vote' }).violation !== undefined) caught++;
    }
    assert.ok(caught > 0, 'no violation found with a vote-forgetting disk');
  });

  test('the PRNG is uniform enough and deterministic', () => {
    const p = new Prng(7);
    const q = new Prng(7);
    const counts = [0, 0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 70_000; i++) {
      const x = p.intn(7);
      assert.equal(x, q.intn(7));
      counts[x]!++;
    }
    for (const c of counts) assert.ok(c > 9_500 && c < 10_500, `skewed: ${counts.join(',')}`);
    assert.notEqual(new Prng(1).next(), new Prng(2).next());
  });
});
