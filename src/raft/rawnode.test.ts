import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawNode } from './rawnode.ts';
import { MemoryStorage } from './storage.ts';
import { SeededRand } from './testing/network.ts';
import { StateType } from './status.ts';
import { ErrStepLocalMsg, ErrStepPeerNotFound } from './errors.ts';
import { EntryType, MessageType, emptyConfState, isEmptyHardState, message, type NodeId } from './raftpb.ts';
import type { Config } from './raft.ts';

const enc = new TextEncoder();

function bootstrapped(voters: NodeId[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: new Uint8Array(0),
    metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters } },
  });
  s.setHardState({ term: 1, vote: 0n, commit: 1 });
  return s;
}

function node(storage: MemoryStorage, extra: Partial<Config> = {}): RawNode {
  return new RawNode({
    id: 1n,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    maxInflightMsgs: 256,
    rand: new SeededRand(1),
    ...extra,
  });
}

/** Runs the classic Ready loop of a single node until it has nothing left. */
function drain(rn: RawNode, s: MemoryStorage, applied: string[] = []): void {
  for (let i = 0; i < 20 && rn.hasReady(); i++) {
    const rd = rn.ready();
    s.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) s.setHardState(rd.hardState);
    for (const e of rd.committedEntries)
      if (e.type === EntryType.EntryNormal && e.data.length > 0)
        applied.push(new TextDecoder().decode(e.data));
    rn.advance(rd);
  }
}

test('a single node campaigns through Ready cycles: vote, then entries, then commit', () => {
  const s = bootstrapped([1n]);
  const rn = node(s);
  assert.equal(rn.hasReady(), false);
  rn.campaign();
  const rd1 = rn.ready();
  assert.deepEqual(rd1.hardState, { term: 2, vote: 1n, commit: 1 });
  assert.equal(rd1.mustSync, true);
  assert.equal(rd1.softState?.raftState, StateType.StateCandidate);
  s.setHardState(rd1.hardState);
  rn.advance(rd1);
  // The self-vote counted on advance: now leader with an empty entry to persist.
  const rd2 = rn.ready();
  assert.equal(rd2.softState?.raftState, StateType.StateLeader);
  assert.deepEqual(
    rd2.entries.map((e) => [e.index, e.term]),
    [[2, 2]],
  );
  assert.deepEqual(rd2.committedEntries, []);
  s.append(rd2.entries);
  rn.advance(rd2);
  const rd3 = rn.ready();
  assert.equal(rd3.hardState.commit, 2);
  assert.deepEqual(
    rd3.committedEntries.map((e) => e.index),
    [2],
  );
  assert.equal(rd3.softState, undefined);
  assert.equal(rd3.mustSync, false);
  rn.advance(rd3);
  assert.equal(rn.hasReady(), false);
  assert.equal(rn.basicStatus().applied, 2);
});

test('ready without advance twice is refused', () => {
  const s = bootstrapped([1n]);
  const rn = node(s);
  rn.campaign();
  rn.ready();
  assert.throws(() => rn.ready(), /without call to Advance/);
});

test('step refuses local messages and responses from unknown peers', () => {
  const rn = node(bootstrapped([1n, 2n]));
  assert.throws(() => rn.step(message({ type: MessageType.MsgHup, from: 2n })), ErrStepLocalMsg);
  assert.throws(
    () => rn.step(message({ type: MessageType.MsgAppResp, from: 9n, to: 1n, term: 1 })),
    ErrStepPeerNotFound,
  );
});

test('restart: state comes back from storage and applied entries are not handed out again', () => {
  const s = bootstrapped([1n]);
  const rn = node(s);
  rn.campaign();
  drain(rn, s);
  rn.propose(enc.encode('a'));
  rn.propose(enc.encode('b'));
  const applied: string[] = [];
  drain(rn, s, applied);
  assert.deepEqual(applied, ['a', 'b']);
  const hs = s.initialState().hardState;
  assert.equal(hs.commit, 4);
  const again = node(s, { applied: 3 });
  assert.equal(again.basicStatus().hardState.term, hs.term);
  const rd = again.ready();
  assert.deepEqual(
    rd.committedEntries.map((e) => new TextDecoder().decode(e.data)),
    ['b'],
  );
});

test('maxCommittedSizePerReady pages committed entries across Readies', () => {
  const s = bootstrapped([1n]);
  const rn = node(s, { maxCommittedSizePerReady: 1 });
  rn.campaign();
  drain(rn, s);
  for (const d of ['a', 'b', 'c']) rn.propose(enc.encode(d));
  const sizes: number[] = [];
  for (let i = 0; i < 20 && rn.hasReady(); i++) {
    const rd = rn.ready();
    s.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) s.setHardState(rd.hardState);
    if (rd.committedEntries.length > 0) sizes.push(rd.committedEntries.length);
    rn.advance(rd);
  }
  assert.deepEqual(sizes, [1, 1, 1]);
});

test('status: progress only on the leader; config always', () => {
  const s = bootstrapped([1n]);
  const rn = node(s);
  assert.equal(rn.status().progress.size, 0);
  assert.deepEqual(rn.status().config.voters.incoming.slice(), [1n]);
  rn.campaign();
  drain(rn, s);
  const st = rn.status();
  assert.equal(st.basic.softState.raftState, StateType.StateLeader);
  assert.equal(st.progress.get(1n)!.match, 2);
});

test('config validation', () => {
  const s = bootstrapped([1n]);
  assert.throws(() => node(s, { id: 0n }), /none as id/);
  assert.throws(() => node(s, { electionTick: 1 }), /election tick/);
  assert.throws(() => node(s, { readOnlyOption: 1 }), /CheckQuorum/);
});

test('randomised election timeout is drawn from config.rand in [electionTick, 2*electionTick)', () => {
  const draws: number[] = [];
  const rand = { intn: (n: number) => (draws.push(n), n - 1) };
  const rn = node(bootstrapped([1n, 2n, 3n]), { rand });
  assert.ok(draws.length > 0 && draws.every((n) => n === 10));
  assert.equal(rn.raft.randomizedElectionTimeout, 19);
  for (let i = 0; i < 18; i++) rn.tick();
  assert.equal(rn.raft.state, StateType.StateFollower);
  rn.tick();
  assert.equal(rn.raft.state, StateType.StateCandidate);
});

test('bootstrap: an empty storage gets committed AddNode entries and can elect itself', () => {
  const s = new MemoryStorage();
  const rn = node(s);
  rn.bootstrap([{ id: 1n }]);
  assert.deepEqual(rn.status().config.voters.incoming.slice(), [1n]);
  const rd = rn.ready();
  assert.deepEqual(rd.hardState, { term: 1, vote: 0n, commit: 1 });
  assert.deepEqual(
    rd.entries.map((e) => e.type),
    [EntryType.EntryConfChange],
  );
  assert.equal(rd.committedEntries.length, 1);
  s.append(rd.entries);
  s.setHardState(rd.hardState);
  rn.advance(rd);
  rn.campaign();
  const applied: string[] = [];
  drain(rn, s, applied);
  assert.equal(rn.basicStatus().softState.raftState, StateType.StateLeader);
  rn.propose(enc.encode('x'));
  drain(rn, s, applied);
  assert.deepEqual(applied, ['x']);
  assert.throws(() => rn.bootstrap([{ id: 1n }]), /nonempty/);
});

test('proposeBatch appends every entry as one run; the status queries read the node without copies', () => {
  const s = bootstrapped([1n]);
  const rn = node(s);
  assert.equal(rn.isSoleVoter(), true);
  assert.equal(rn.isLearner(), false);
  assert.deepEqual(rn.voters(), [1n]);
  rn.campaign();
  drain(rn, s);
  assert.equal(rn.term(), 2);
  const before = rn.committed();
  const applied: string[] = [];
  rn.proposeBatch([enc.encode('a'), enc.encode('b'), enc.encode('c')]);
  const rd = rn.ready();
  assert.deepEqual(
    rd.entries.map((e) => e.index),
    [before + 1, before + 2, before + 3],
  );
  s.append(rd.entries);
  rn.advance(rd);
  drain(rn, s, applied);
  assert.deepEqual(applied, ['a', 'b', 'c']);
  assert.equal(rn.committed(), before + 3);
  assert.equal(rn.applied(), before + 3);
  assert.equal(rn.progressMatch(1n), before + 3);
  assert.deepEqual(rn.confState().voters, [1n]);
});

test('a follower voter of three is neither the sole voter nor a learner', () => {
  const rn = node(bootstrapped([1n, 2n, 3n]));
  assert.equal(rn.isSoleVoter(), false);
  assert.equal(rn.isLearner(), false);
  assert.deepEqual(
    rn.voters().sort((a, b) => (a < b ? -1 : 1)),
    [1n, 2n, 3n],
  );
});
