import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JointConfig } from '../quorum/joint.ts';
import { MajorityConfig } from '../quorum/majority.ts';
import { VoteResult } from '../quorum/quorum.ts';
import { Inflights } from './inflights.ts';
import { Progress } from './progress.ts';
import { ProgressTracker, trackerConfigString } from './tracker.ts';

function tracker(incoming: number[], outgoing: number[] = [], learners: number[] = []): ProgressTracker {
  const t = new ProgressTracker(256, 0);
  t.config.voters = new JointConfig(
    new MajorityConfig(incoming.map(BigInt)),
    new MajorityConfig(outgoing.map(BigInt)),
  );
  t.config.learners = new Set(learners.map(BigInt));
  for (const id of new Set([...incoming, ...outgoing, ...learners])) {
    t.progress.set(
      BigInt(id),
      new Progress({ next: 1, inflights: new Inflights(256, 0), isLearner: learners.includes(id) }),
    );
  }
  return t;
}

function setMatch(t: ProgressTracker, m: Record<number, number>): void {
  for (const [id, v] of Object.entries(m)) t.progress.get(BigInt(id))!.match = v;
}

test('committed: majority of voters, learners ignored', () => {
  const t = tracker([1, 2, 3], [], [4]);
  setMatch(t, { 1: 10, 2: 8, 3: 2, 4: 100 });
  assert.equal(t.committed(), 8);
});

test('committed: joint takes the lower of both halves', () => {
  const t = tracker([1, 2, 3], [1, 4, 5]);
  setMatch(t, { 1: 10, 2: 9, 3: 9, 4: 3, 5: 2 });
  assert.equal(t.committed(), 3);
});

test('isSingleton only for one voter outside a joint config', () => {
  assert.equal(tracker([1]).isSingleton(), true);
  assert.equal(tracker([1], [], [2]).isSingleton(), true);
  assert.equal(tracker([1, 2]).isSingleton(), false);
  assert.equal(tracker([1], [1, 2]).isSingleton(), false);
});

test('quorumActive counts recently active voters only', () => {
  const t = tracker([1, 2, 3], [], [4, 5]);
  t.progress.get(1n)!.recentActive = true;
  t.progress.get(4n)!.recentActive = true;
  t.progress.get(5n)!.recentActive = true;
  assert.equal(t.quorumActive(), false);
  t.progress.get(3n)!.recentActive = true;
  assert.equal(t.quorumActive(), true);
});

test('tallyVotes: first vote counts, learners and strangers do not count', () => {
  const t = tracker([1, 2, 3], [], [4]);
  t.recordVote(1n, true);
  t.recordVote(1n, false);
  t.recordVote(4n, true);
  t.recordVote(9n, true);
  assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 0, result: VoteResult.VotePending });
  t.recordVote(2n, false);
  t.recordVote(3n, false);
  assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 2, result: VoteResult.VoteLost });
  t.resetVotes();
  t.recordVote(2n, true);
  t.recordVote(3n, true);
  assert.deepEqual(t.tallyVotes(), { granted: 2, rejected: 0, result: VoteResult.VoteWon });
});

test('visit goes in ascending numeric id order regardless of insertion', () => {
  const t = tracker([30, 4, 200, 1], [], [7]);
  const seen: bigint[] = [];
  t.visit((id) => seen.push(id));
  assert.deepEqual(seen, [1n, 4n, 7n, 30n, 200n]);
});

test('voterNodes/learnerNodes sorted; confState and config string', () => {
  const t = tracker([3, 1], [1, 2], [5]);
  t.config.learnersNext = new Set([2n]);
  t.config.autoLeave = true;
  assert.deepEqual(t.voterNodes(), [1n, 2n, 3n]);
  assert.deepEqual(t.learnerNodes(), [5n]);
  assert.deepEqual(t.confState(), {
    voters: [1n, 3n],
    votersOutgoing: [1n, 2n],
    learners: [5n],
    learnersNext: [2n],
    autoLeave: true,
  });
  assert.equal(trackerConfigString(t.config), 'voters=(1 3)&&(1 2) learners=(5) learners_next=(2) autoleave');
});

test('an empty tracker commits nothing it does not know of and has an empty conf state', () => {
  const t = new ProgressTracker(10, 0);
  assert.deepEqual(t.confState(), {
    voters: [],
    votersOutgoing: [],
    learners: [],
    learnersNext: [],
    autoLeave: false,
  });
  assert.equal(t.isSingleton(), false);
  assert.deepEqual(t.voterNodes(), []);
});
