import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network, SeededRand } from './testing/network.ts';
import { StateType } from './status.ts';
import { ErrProposalDropped } from './errors.ts';

const enc = new TextEncoder();

/** Random ticks, proposals, reordering, loss and partitions; checks the safety properties throughout. */
function run(seed: number, config: { preVote?: boolean; checkQuorum?: boolean }): { commits: number } {
  const rnd = new SeededRand(seed);
  const ids = [1n, 2n, 3n, 4n, 5n];
  const net = new Network(ids, { seed, config });
  const leaderOfTerm = new Map<number, bigint>();
  let proposals = 0;
  for (let step = 0; step < 1500; step++) {
    const r = rnd.intn(100);
    if (r < 40) net.tick(ids[rnd.intn(5)]!);
    else if (r < 50) {
      try {
        net.rn(ids[rnd.intn(5)]!).propose(enc.encode(`v${proposals++}`));
      } catch (e) {
        if (!(e instanceof ErrProposalDropped)) throw e;
      }
    } else if (r < 52) {
      net.heal();
      const a = ids[rnd.intn(5)]!;
      net.isolate(a);
    } else if (r < 55) net.heal();
    else if (r < 56) net.restart(ids[rnd.intn(5)]!);
    for (const id of ids)
      while (net.processReady(id)) {
        /* drain */
      }
    // Deliver a random subset in random order; lose some.
    const q = net.queue;
    net.queue = [];
    for (let i = q.length - 1; i > 0; i--) {
      const j = rnd.intn(i + 1);
      [q[i], q[j]] = [q[j]!, q[i]!];
    }
    for (const m of q) {
      const fate = rnd.intn(100);
      if (fate < 10) continue; // lost
      if (fate < 25)
        net.queue.push(m); // delayed
      else {
        net.queue.unshift(m);
        net.deliverOne();
      }
    }
    for (const id of ids) {
      const st = net.rn(id).basicStatus();
      if (st.softState.raftState === StateType.StateLeader) {
        const prev = leaderOfTerm.get(st.hardState.term);
        assert.ok(
          prev === undefined || prev === id,
          `two leaders in term ${st.hardState.term}: ${prev} ${id}`,
        );
        leaderOfTerm.set(st.hardState.term, id);
      }
    }
    // State machine safety: applied sequences are prefixes of one another.
    const applied = ids.map((id) => net.node(id).applied);
    const longest = applied.reduce((a, b) => (a.length >= b.length ? a : b));
    for (const a of applied) assert.deepEqual(a, longest.slice(0, a.length), `seed ${seed} step ${step}`);
  }
  // Liveness once healed: a leader emerges and commits.
  net.heal();
  net.queue = [];
  for (let i = 0; i < 200 && net.leaders().length !== 1; i++) net.tickAll();
  assert.equal(net.leaders().length, 1, `seed ${seed}: no single leader after healing`);
  assert.ok(net.propose(net.leaders()[0]!, 'final'));
  net.tickAll(3);
  const all = net.node(1n).applied;
  assert.equal(all[all.length - 1], 'final');
  for (const id of ids) assert.deepEqual(net.node(id).applied, all, `seed ${seed} node ${id}`);
  return { commits: all.length };
}

test('random faults: one leader per term, applied logs agree, liveness after healing', () => {
  let commits = 0;
  for (let seed = 1; seed <= 8; seed++) commits += run(seed, {}).commits;
  for (let seed = 9; seed <= 16; seed++) commits += run(seed, { preVote: true, checkQuorum: true }).commits;
  assert.ok(commits > 16, `only ${commits} commits`);
});
