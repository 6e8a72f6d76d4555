import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfChangeType, type ConfChangeSingle, type ConfState } from '../raftpb.ts';
import { ProgressTracker, confStateOf, trackerConfigString } from '../tracker/tracker.ts';
import { type ProgressMap, progressMapString } from '../tracker/progress.ts';
import { Changer, ConfChangeError, type ConfigAndProgress } from './confchange.ts';
import { confChangesFromString, confChangesToString } from './conv.ts';
import { restore } from './restore.ts';

const ccs = confChangesFromString;

/** A tracker built from the given state plus a lastIndex, in the shape the Changer takes. */
function changer(state: ConfigAndProgress, lastIndex = 10): Changer {
  return new Changer(state, lastIndex, 64, 0);
}

function empty(): ConfigAndProgress {
  const t = new ProgressTracker(64, 0);
  return { config: t.config, progress: t.progress };
}

function run(start: ConfigAndProgress, ...steps: ((c: Changer) => ConfigAndProgress)[]): ConfigAndProgress {
  let cur = start;
  for (const s of steps) cur = s(changer(cur));
  return cur;
}

function show(s: ConfigAndProgress): string {
  return `${trackerConfigString(s.config)}\n${progressMapString(s.progress)}`;
}

// Everything observable, including fields progressMapString leaves out.
function dump(s: ConfigAndProgress): string {
  const prs = [...s.progress].map(
    ([id, p]) =>
      `${id}:${p.match}/${p.next}/${p.sentCommit}/${p.state}/${p.pendingSnapshot}/${p.recentActive}/` +
      `${p.msgAppFlowPaused}/${p.isLearner}/${p.inflights.count()}`,
  );
  return `${show(s)}|${JSON.stringify(confStateOf(s.config), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}|${prs.join(',')}`;
}

const base = () =>
  run(
    empty(),
    (c) => c.simple(...ccs('v1')),
    (c) => c.simple(...ccs('v2')),
    (c) => c.simple(...ccs('v3')),
  );

describe('simple', () => {
  test('adds voters one at a time from an empty config; new progress probes from lastIndex', () => {
    const s = base();
    assert.equal(trackerConfigString(s.config), 'voters=(1 2 3)');
    const pr = s.progress.get(3n)!;
    assert.deepEqual([pr.match, pr.next, pr.recentActive, pr.isLearner], [0, 10, true, false]);
    assert.equal(pr.inflights.size, 64);
    const first = changer(empty(), 0).simple(...ccs('v1'));
    assert.equal(first.progress.get(1n)!.next, 1);
  });
  test('refuses changing more than one voter', () => {
    assert.throws(
      () => changer(base()).simple(...ccs('v4 v5')),
      new ConfChangeError('more than one voter changed without entering joint config'),
    );
    assert.throws(() => changer(base()).simple(...ccs('r1 r2')), /more than one voter changed/);
    assert.throws(() => changer(base()).simple(...ccs('r1 v4')), /more than one voter changed/);
  });
  test('learner changes do not count as voter changes', () => {
    const s = changer(base()).simple(...ccs('l4 l5 v6'));
    assert.equal(trackerConfigString(s.config), 'voters=(1 2 3 6) learners=(4 5)');
    assert.equal(s.progress.get(4n)!.isLearner, true);
  });
  test('promote a learner and demote a voter', () => {
    const s = run(
      base(),
      (c) => c.simple(...ccs('l4')),
      (c) => c.simple(...ccs('v4')),
    );
    assert.equal(trackerConfigString(s.config), 'voters=(1 2 3 4)');
    assert.equal(s.progress.get(4n)!.isLearner, false);
    const d = changer(s).simple(...ccs('l4'));
    assert.equal(trackerConfigString(d.config), 'voters=(1 2 3) learners=(4)');
    assert.equal(d.progress.get(4n)!.isLearner, true);
    // Demoting keeps the node's progress (it is still replicated to).
    s.progress.get(4n)!.match = 7;
    assert.equal(
      changer(s)
        .simple(...ccs('l4'))
        .progress.get(4n)!.match,
      7,
    );
  });
  test('removing a nonexistent node is a no-op; node id 0 is ignored; update changes nothing', () => {
    const s = changer(base()).simple(...ccs('r9 v0 u2'));
    assert.equal(show(s), show(base()));
  });
  test('removing the last voter is refused', () => {
    const one = changer(empty()).simple(...ccs('v1'));
    assert.throws(() => changer(one).simple(...ccs('r1')), /removed all voters/);
  });
  test('refused in a joint config', () => {
    const j = changer(base()).enterJoint(false, ...ccs('v4'));
    assert.throws(() => changer(j).simple(...ccs('v5')), /can't apply simple config change in joint config/);
  });
  test('unknown change types are refused', () => {
    const bad = { type: 9 as ConfChangeType, nodeId: 4n } satisfies ConfChangeSingle;
    assert.throws(() => changer(base()).simple(bad), /unexpected conf type 9/);
  });
});

describe('joint', () => {
  test('enterJoint copies the voters into the outgoing half and applies the changes to the incoming half', () => {
    const j = changer(base()).enterJoint(true, ...ccs('r1 v4 v5'));
    assert.equal(trackerConfigString(j.config), 'voters=(2 3 4 5)&&(1 2 3) autoleave');
    assert.ok(j.progress.has(1n), 'outgoing voter keeps its progress');
    const l = changer(j).leaveJoint();
    assert.equal(trackerConfigString(l.config), 'voters=(2 3 4 5)');
    assert.equal(l.progress.has(1n), false);
    assert.equal(l.config.autoLeave, false);
  });
  test('a voter demoted while joint goes to learnersNext, and becomes a learner on leaving', () => {
    const j = changer(base()).enterJoint(false, ...ccs('l3 l4'));
    assert.equal(trackerConfigString(j.config), 'voters=(1 2)&&(1 2 3) learners=(4) learners_next=(3)');
    assert.equal(j.progress.get(3n)!.isLearner, false);
    assert.equal(j.progress.get(4n)!.isLearner, true);
    const l = changer(j).leaveJoint();
    assert.equal(trackerConfigString(l.config), 'voters=(1 2) learners=(3 4)');
    assert.equal(l.progress.get(3n)!.isLearner, true);
  });
  test('re-promoting a staged learner while entering clears learnersNext', () => {
    const j = changer(base()).enterJoint(false, ...ccs('l3 v3'));
    assert.equal(trackerConfigString(j.config), 'voters=(1 2 3)&&(1 2 3)');
  });
  test('errors: zero-voter, already joint, leave when not joint, removing all voters', () => {
    assert.throws(
      () => changer(empty()).enterJoint(false, ...ccs('v1')),
      /can't make a zero-voter config joint/,
    );
    const j = changer(base()).enterJoint(false, ...ccs('v4'));
    assert.throws(() => changer(j).enterJoint(false), /config is already joint/);
    assert.throws(() => changer(base()).leaveJoint(), /can't leave a non-joint config/);
    assert.throws(() => changer(base()).enterJoint(false, ...ccs('r1 r2 r3')), /removed all voters/);
  });
  test('enterJoint with no changes is allowed (an explicit joint transition)', () => {
    const j = changer(base()).enterJoint(true);
    assert.equal(trackerConfigString(j.config), 'voters=(1 2 3)&&(1 2 3) autoleave');
  });
});

describe('never mutates its input', () => {
  const ops: [string, (c: Changer) => ConfigAndProgress][] = [
    ['simple add', (c) => c.simple(...ccs('v4'))],
    ['simple demote', (c) => c.simple(...ccs('l3'))],
    ['simple remove', (c) => c.simple(...ccs('r2'))],
    ['simple refused', (c) => c.simple(...ccs('v4 v5'))],
    ['enterJoint', (c) => c.enterJoint(true, ...ccs('l3 r2 v5 l6'))],
  ];
  for (const [name, op] of ops) {
    test(name, () => {
      const input = base();
      input.progress.get(2n)!.match = 5;
      const before = dump(input);
      let out: ConfigAndProgress | undefined;
      try {
        out = op(changer(input));
      } catch (e) {
        assert.ok(e instanceof ConfChangeError);
      }
      assert.equal(dump(input), before);
      if (out) {
        // The result shares no objects with the input.
        assert.notEqual(out.config.voters.incoming.ids, input.config.voters.incoming.ids);
        for (const [id, pr] of out.progress) assert.notEqual(pr, input.progress.get(id));
        out.progress.get(1n)!.match = 99;
        out.progress.get(1n)!.inflights.add(1, 1);
        assert.equal(dump(input), before);
      }
    });
  }
  test('leaveJoint', () => {
    const j = changer(base()).enterJoint(false, ...ccs('l3 r2 v4'));
    const before = dump(j);
    const l = changer(j).leaveJoint();
    assert.equal(dump(j), before);
    assert.notEqual(dump(l), before);
  });
});

describe('restore', () => {
  const cases: ConfState[] = [
    { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    { voters: [1n, 2n, 3n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    { voters: [1n, 2n, 3n], learners: [4n, 5n], votersOutgoing: [], learnersNext: [], autoLeave: false },
    {
      voters: [1n, 2n, 3n],
      learners: [5n],
      votersOutgoing: [1n, 2n, 4n, 6n],
      learnersNext: [4n],
      autoLeave: true,
    },
    { voters: [7n], learners: [], votersOutgoing: [1n, 2n, 3n], learnersNext: [1n, 2n], autoLeave: false },
    { voters: [1n << 63n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  ];
  for (const cs of cases) {
    test(`round-trips ${JSON.stringify(cs, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))}`, () => {
      const t = new ProgressTracker(64, 0);
      const r = restore(changer(t, 5), cs);
      t.config = r.config;
      t.progress = r.progress;
      assert.deepEqual(t.confState(), cs);
      for (const id of cs.learners) assert.equal(t.progress.get(id)!.isLearner, true);
      for (const id of cs.learnersNext) assert.equal(t.progress.get(id)!.isLearner, false);
    });
  }
  test('refuses an illegal ConfState', () => {
    const t = new ProgressTracker(64, 0);
    const cs = { voters: [1n], learners: [1n], votersOutgoing: [], learnersNext: [], autoLeave: false };
    assert.throws(() => restore(changer(t), cs), ConfChangeError);
  });

  test('any config reached by random changes round-trips through confState()', () => {
    const change = fc
      .tuple(fc.constantFrom('v', 'l', 'r', 'u'), fc.integer({ min: 1, max: 6 }))
      .map(([k, n]) => `${k}${n}`);
    const step = fc.oneof(
      fc.record({ kind: fc.constant('simple' as const), cs: fc.array(change, { maxLength: 2 }) }),
      fc.record({
        kind: fc.constant('enter' as const),
        cs: fc.array(change, { maxLength: 4 }),
        auto: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('leave' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        let cur: ConfigAndProgress = empty();
        for (const s of steps) {
          try {
            const c = changer(cur);
            if (s.kind === 'simple') cur = c.simple(...ccs(s.cs.join(' ')));
            else if (s.kind === 'enter') cur = c.enterJoint(s.auto, ...ccs(s.cs.join(' ')));
            else cur = c.leaveJoint();
          } catch (e) {
            if (!(e instanceof ConfChangeError)) throw e;
          }
        }
        const cs = confStateOf(cur.config);
        const r = restore(changer(empty()), cs);
        assert.deepEqual(confStateOf(r.config), cs);
        const roles = (m: ProgressMap) => [...m].map(([id, p]) => `${id}:${p.isLearner}`).sort();
        assert.deepEqual(roles(r.progress), roles(cur.progress));
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});

test('confChangesToString is the inverse of confChangesFromString', () => {
  assert.equal(confChangesToString(ccs('v1 l2 r3 u4')), 'v1 l2 r3 u4');
  assert.equal(confChangesToString(ccs('  v18446744073709551615 ')), 'v18446744073709551615');
});
