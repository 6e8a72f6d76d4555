import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights } from './inflights.ts';
import { Progress, ProgressStateType, progressMapString } from './progress.ts';

const { StateProbe, StateReplicate, StateSnapshot } = ProgressStateType;

function pr(fields: Partial<Progress> & { next: number }, size = 256): Progress {
  const p = new Progress({ next: fields.next, inflights: new Inflights(size, 0) });
  Object.assign(p, fields);
  return p;
}

describe('transitions', () => {
  test('becomeProbe from replicate resets next to match+1 and clears the window', () => {
    const p = pr({ state: StateReplicate, match: 1, next: 5, sentCommit: 3 });
    p.inflights.add(4, 1);
    p.becomeProbe();
    assert.equal(p.state, StateProbe);
    assert.equal(p.next, 2);
    assert.equal(p.inflights.count(), 0);
    assert.equal(p.sentCommit, 1);
  });
  test('becomeProbe from snapshot resumes after the pending snapshot', () => {
    const p = pr({ match: 1, next: 5 });
    p.becomeSnapshot(10);
    assert.equal(p.state, StateSnapshot);
    assert.equal(p.pendingSnapshot, 10);
    p.becomeProbe();
    assert.equal(p.state, StateProbe);
    assert.equal(p.next, 11);
    assert.equal(p.pendingSnapshot, 0);
  });
  test('becomeProbe from snapshot keeps match+1 when the follower is past the snapshot', () => {
    const p = pr({ match: 20, next: 21 });
    p.becomeSnapshot(10);
    p.becomeProbe();
    assert.equal(p.next, 21);
  });
  test('becomeReplicate sets next to match+1 and unpauses', () => {
    const p = pr({ match: 1, next: 5, msgAppFlowPaused: true });
    p.becomeReplicate();
    assert.equal(p.state, StateReplicate);
    assert.equal(p.next, 2);
    assert.equal(p.msgAppFlowPaused, false);
  });
});

describe('sentEntries and commit tracking', () => {
  test('in replicate it advances next and fills the window; in probe it only pauses', () => {
    const r = pr({ state: StateReplicate, match: 4, next: 5 });
    r.sentEntries(3, 30);
    assert.equal(r.next, 8);
    assert.equal(r.inflights.count(), 1);
    assert.equal(r.inflights.bytes(), 30);
    assert.equal(r.msgAppFlowPaused, true);
    const p = pr({ match: 4, next: 5 });
    p.sentEntries(3, 30);
    assert.equal(p.next, 5);
    assert.equal(p.inflights.count(), 0);
    assert.equal(p.msgAppFlowPaused, true);
    assert.equal(p.isPaused(), true);
  });
  test('setSentCommit never passes next-1; canBumpCommit compares against it', () => {
    const p = pr({ state: StateReplicate, match: 4, next: 8 });
    assert.equal(p.canBumpCommit(5), true);
    p.setSentCommit(10);
    assert.equal(p.sentCommit, 7);
    assert.equal(p.canBumpCommit(10), false);
    p.setSentCommit(3);
    assert.equal(p.sentCommit, 7);
  });
});

describe('maybeUpdate', () => {
  test('stale acks are rejected; fresh acks move match and next', () => {
    const p = pr({ match: 5, next: 10 });
    assert.equal(p.maybeUpdate(4), false);
    assert.equal(p.maybeUpdate(5), false);
    assert.deepEqual([p.match, p.next], [5, 10]);
    assert.equal(p.maybeUpdate(7), true);
    assert.deepEqual([p.match, p.next], [7, 10]);
    assert.equal(p.maybeUpdate(12), true);
    assert.deepEqual([p.match, p.next], [12, 13]);
  });
});

describe('maybeDecrTo', () => {
  test('replicate: a rejection at or below match is stale', () => {
    const p = pr({ state: StateReplicate, match: 5, next: 10 });
    assert.equal(p.maybeDecrTo(5, 5), false);
    assert.equal(p.maybeDecrTo(4, 4), false);
    assert.equal(p.next, 10);
  });
  test('replicate: a genuine rejection drops next to match+1', () => {
    const p = pr({ state: StateReplicate, match: 5, next: 10 });
    assert.equal(p.maybeDecrTo(9, 9), true);
    assert.equal(p.next, 6);
  });
  test('probe: rejections other than next-1 are stale', () => {
    const p = pr({ match: 0, next: 10, msgAppFlowPaused: true });
    assert.equal(p.maybeDecrTo(5, 5), false);
    assert.equal(p.next, 10);
    assert.equal(p.msgAppFlowPaused, true);
  });
  test('probe: uses the hint, never below match+1, and unpauses', () => {
    const p = pr({ match: 0, next: 10, msgAppFlowPaused: true });
    assert.equal(p.maybeDecrTo(9, 4), true);
    assert.equal(p.next, 5);
    assert.equal(p.msgAppFlowPaused, false);
    const q = pr({ match: 3, next: 10 });
    assert.equal(q.maybeDecrTo(9, 0), true);
    assert.equal(q.next, 4);
    const h = pr({ match: 0, next: 10 });
    assert.equal(h.maybeDecrTo(9, 100), true);
    assert.equal(h.next, 9);
  });
});

describe('isPaused', () => {
  test('probe: paused iff the flow is paused', () => {
    assert.equal(pr({ next: 1 }).isPaused(), false);
    assert.equal(pr({ next: 1, msgAppFlowPaused: true }).isPaused(), true);
  });
  test('replicate: paused only when paused and the window is full', () => {
    const p = pr({ state: StateReplicate, next: 1 }, 1);
    assert.equal(p.isPaused(), false);
    p.msgAppFlowPaused = true;
    assert.equal(p.isPaused(), false);
    p.inflights.add(1, 1);
    assert.equal(p.isPaused(), true);
  });
  test('snapshot: always paused', () => {
    const p = pr({ next: 1 });
    p.becomeSnapshot(5);
    assert.equal(p.isPaused(), true);
    assert.equal(p.shouldSendMsgApp(10, 10), false);
  });
});

test('toString and progressMapString', () => {
  const p = pr({ state: StateReplicate, match: 5, next: 6, isLearner: true }, 1);
  p.sentEntries(1, 1);
  assert.equal(p.toString(), 'StateReplicate match=5 next=7 learner paused inactive inflight=1[full]');
  const q = pr({ match: 1, next: 2, recentActive: true });
  assert.equal(
    progressMapString(
      new Map([
        [10n, q],
        [2n, p],
      ]),
    ).split('\n')[0],
    '2: ' + p.toString(),
  );
  assert.equal(progressMapString(new Map([[10n, q]])), '10: StateProbe match=1 next=2\n');
});

test('clone shares no state', () => {
  const p = pr({ state: StateReplicate, match: 1, next: 2 });
  const c = p.clone();
  p.sentEntries(2, 5);
  p.maybeUpdate(3);
  assert.deepEqual([c.match, c.next, c.inflights.count(), c.msgAppFlowPaused], [1, 2, 0, false]);
});
