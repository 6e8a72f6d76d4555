import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MajorityConfig } from './majority.ts';
import { JointConfig } from './joint.ts';
import { VoteResult, mapAckIndexer, sortedIds } from './quorum.ts';

const acks = (o: Record<string, number>) =>
  mapAckIndexer(new Map(Object.entries(o).map(([k, v]) => [BigInt(k), v])));
const votes = (o: Record<string, boolean>) => new Map(Object.entries(o).map(([k, v]) => [BigInt(k), v]));
const maj = (...ids: number[]) => new MajorityConfig(ids.map(BigInt));

describe('MajorityConfig.committedIndex', () => {
  test('empty config commits everything so it never holds back a joint half', () => {
    assert.equal(maj().committedIndex(acks({})), Number.MAX_SAFE_INTEGER);
  });
  test('single voter commits what it acked, 0 if it has not reported', () => {
    assert.equal(maj(1).committedIndex(acks({ 1: 12 })), 12);
    assert.equal(maj(1).committedIndex(acks({})), 0);
  });
  test('two voters need both', () => {
    assert.equal(maj(1, 2).committedIndex(acks({ 1: 12, 2: 5 })), 5);
    assert.equal(maj(1, 2).committedIndex(acks({ 1: 12 })), 0);
  });
  test('three voters take the median; missing voters count as zero', () => {
    assert.equal(maj(1, 2, 3).committedIndex(acks({ 1: 12, 2: 5, 3: 7 })), 7);
    assert.equal(maj(1, 2, 3).committedIndex(acks({ 1: 12, 3: 7 })), 7);
    assert.equal(maj(1, 2, 3).committedIndex(acks({ 1: 12 })), 0);
  });
  test('four voters need three: ties resolve to the lower of the middle pair', () => {
    assert.equal(maj(1, 2, 3, 4).committedIndex(acks({ 1: 10, 2: 10, 3: 4, 4: 4 })), 4);
    assert.equal(maj(1, 2, 3, 4).committedIndex(acks({ 1: 10, 2: 10, 3: 10, 4: 4 })), 10);
  });
  test('acks from non-voters are ignored', () => {
    assert.equal(maj(1, 2, 3).committedIndex(acks({ 1: 5, 4: 100, 5: 100 })), 0);
  });
  test('slice and toString are sorted numerically', () => {
    const c = maj(10, 2, 1);
    assert.deepEqual(c.slice(), [1n, 2n, 10n]);
    assert.equal(c.toString(), '(1 2 10)');
    assert.equal(maj().toString(), '()');
  });
  test('ids above 2^53 keep their value', () => {
    const big = (1n << 63n) + 5n;
    assert.deepEqual(new MajorityConfig([big, 1n]).slice(), [1n, big]);
  });
});

describe('MajorityConfig.voteResult', () => {
  test('empty config wins by convention', () => {
    assert.equal(maj().voteResult(votes({})), VoteResult.VoteWon);
  });
  test('one voter', () => {
    assert.equal(maj(1).voteResult(votes({})), VoteResult.VotePending);
    assert.equal(maj(1).voteResult(votes({ 1: true })), VoteResult.VoteWon);
    assert.equal(maj(1).voteResult(votes({ 1: false })), VoteResult.VoteLost);
  });
  test('three voters', () => {
    const c = maj(1, 2, 3);
    assert.equal(c.voteResult(votes({ 1: true })), VoteResult.VotePending);
    assert.equal(c.voteResult(votes({ 1: true, 2: false })), VoteResult.VotePending);
    assert.equal(c.voteResult(votes({ 1: true, 2: true })), VoteResult.VoteWon);
    assert.equal(c.voteResult(votes({ 1: false, 2: false })), VoteResult.VoteLost);
    assert.equal(c.voteResult(votes({ 1: true, 4: true, 5: true })), VoteResult.VotePending);
  });
  test('four voters: a 2-2 tie is lost', () => {
    const c = maj(1, 2, 3, 4);
    assert.equal(c.voteResult(votes({ 1: true, 2: true, 3: false })), VoteResult.VotePending);
    assert.equal(c.voteResult(votes({ 1: true, 2: true, 3: false, 4: false })), VoteResult.VoteLost);
  });
});

describe('JointConfig', () => {
  test('with an empty outgoing half it behaves like the incoming half', () => {
    const j = new JointConfig(maj(1, 2, 3), maj());
    assert.equal(j.committedIndex(acks({ 1: 12, 2: 5, 3: 7 })), 7);
    assert.equal(j.voteResult(votes({ 1: true, 2: true })), VoteResult.VoteWon);
    assert.equal(j.isJoint(), false);
    assert.equal(j.toString(), '(1 2 3)');
  });
  test('both halves empty: commits everything, vote won', () => {
    const j = new JointConfig();
    assert.equal(j.committedIndex(acks({})), Number.MAX_SAFE_INTEGER);
    assert.equal(j.voteResult(votes({})), VoteResult.VoteWon);
  });
  test('committed index is the minimum of both halves', () => {
    const j = new JointConfig(maj(1, 2, 3), maj(3, 4, 5));
    assert.equal(j.committedIndex(acks({ 1: 10, 2: 10, 3: 10, 4: 3, 5: 2 })), 3);
    assert.equal(j.committedIndex(acks({ 1: 1, 2: 2, 3: 10, 4: 9, 5: 9 })), 2);
    assert.deepEqual(sortedIds(j.ids()), [1n, 2n, 3n, 4n, 5n]);
    assert.equal(j.toString(), '(1 2 3)&&(3 4 5)');
    assert.equal(j.isJoint(), true);
  });
  test('vote needs both halves; a loss in either loses', () => {
    const j = new JointConfig(maj(1, 2, 3), maj(3, 4, 5));
    assert.equal(j.voteResult(votes({ 1: true, 2: true })), VoteResult.VotePending);
    assert.equal(j.voteResult(votes({ 1: true, 2: true, 4: true, 5: true })), VoteResult.VoteWon);
    assert.equal(j.voteResult(votes({ 1: true, 2: true, 4: false, 5: false })), VoteResult.VoteLost);
    assert.equal(j.voteResult(votes({ 1: false, 2: false, 4: true })), VoteResult.VoteLost);
  });
});

// Brute force: the largest index that at least a majority of voters acked (unreported = 0).
function bruteCommitted(ids: number[], acked: Map<bigint, number>): number {
  if (ids.length === 0) return Number.MAX_SAFE_INTEGER;
  const q = Math.floor(ids.length / 2) + 1;
  let best = 0;
  for (const cand of [0, ...acked.values()]) {
    const n = ids.filter((id) => (acked.get(BigInt(id)) ?? 0) >= cand).length;
    if (n >= q && cand > best) best = cand;
  }
  return best;
}

function bruteVote(ids: number[], vs: Map<bigint, boolean>): VoteResult {
  if (ids.length === 0) return VoteResult.VoteWon;
  const q = Math.floor(ids.length / 2) + 1;
  const yes = ids.filter((id) => vs.get(BigInt(id)) === true).length;
  const no = ids.filter((id) => vs.get(BigInt(id)) === false).length;
  if (yes >= q) return VoteResult.VoteWon;
  if (ids.length - no < q) return VoteResult.VoteLost;
  return VoteResult.VotePending;
}

const idSet = fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 7 });

test('committedIndex agrees with the brute-force definition (majority and joint)', () => {
  fc.assert(
    fc.property(
      idSet,
      idSet,
      fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.integer({ min: 0, max: 20 })),
      (inc, out, raw) => {
        const acked = new Map(Object.entries(raw).map(([k, v]) => [BigInt(k), v]));
        const l = mapAckIndexer(acked);
        const m = new MajorityConfig(inc.map(BigInt));
        assert.equal(m.committedIndex(l), bruteCommitted(inc, acked));
        const j = new JointConfig(m, new MajorityConfig(out.map(BigInt)));
        assert.equal(j.committedIndex(l), Math.min(bruteCommitted(inc, acked), bruteCommitted(out, acked)));
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});

test('voteResult agrees with the brute-force definition (majority and joint)', () => {
  fc.assert(
    fc.property(
      idSet,
      idSet,
      fc.dictionary(fc.integer({ min: 1, max: 9 }).map(String), fc.boolean()),
      (inc, out, raw) => {
        const vs = new Map(Object.entries(raw).map(([k, v]) => [BigInt(k), v]));
        assert.equal(new MajorityConfig(inc.map(BigInt)).voteResult(vs), bruteVote(inc, vs));
        const r1 = bruteVote(inc, vs);
        const r2 = bruteVote(out, vs);
        const want =
          r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost
            ? VoteResult.VoteLost
            : r1 === VoteResult.VoteWon && r2 === VoteResult.VoteWon
              ? VoteResult.VoteWon
              : VoteResult.VotePending;
        const j = new JointConfig(new MajorityConfig(inc.map(BigInt)), new MajorityConfig(out.map(BigInt)));
        assert.equal(j.voteResult(vs), want);
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});
