import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { MemoryStorage } from './storage.ts';
import { StateType } from './status.ts';
import { EntryType, MessageType, emptyConfState, type Entry } from './raftpb.ts';
import { ErrProposalDropped } from './errors.ts';
import { ProgressStateType } from './tracker/progress.ts';

const enc = new TextEncoder();

function ent(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.EntryNormal, data: enc.encode(data) };
}

test('proposals replicate and apply on every node in order', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  for (const d of ['a', 'b', 'c']) assert.ok(net.propose(1n, d));
  for (const id of [1n, 2n, 3n]) assert.deepEqual(net.node(id).applied, ['a', 'b', 'c']);
});

test('a deposed leader drops its uncommitted tail for the new leader log', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  // 1 leads at term 2 but is cut off: its 20 proposals never commit.
  const undo = net.isolate(1n);
  for (let i = 0; i < 20; i++) net.rn(1n).propose(enc.encode(`lost${i}`));
  net.stabilize();
  net.campaign(2n);
  assert.equal(net.state(2n), StateType.StateLeader);
  for (const d of ['x', 'y']) net.propose(2n, d);
  undo();
  net.tickAll(3);
  assert.equal(net.state(1n), StateType.StateFollower);
  assert.deepEqual(net.logTerms(1n), net.logTerms(2n));
  assert.deepEqual(net.node(1n).applied, ['x', 'y']);
});

function storageWith(terms: number[], term: number): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: enc.encode('[]'),
    metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: [1n, 2n, 3n] } },
  });
  s.append(terms.map((t, i) => ent(i + 2, t)));
  s.setHardState({ term, vote: 0n, commit: 1 });
  return s;
}

test('a long divergent follower tail is found in one rejection (hints by term)', () => {
  const net = new Network([]);
  // idx:    2 3 4 5 6 7 8 9
  // leader: 3 3 3 5 5 5 5 5   follower 2: 1 1 1 2 2
  net.addNodeWithStorage(1n, storageWith([3, 3, 3, 5, 5, 5, 5, 5], 5));
  net.addNodeWithStorage(2n, storageWith([1, 1, 1, 2, 2], 5));
  net.addNodeWithStorage(3n, storageWith([3, 3, 3, 5, 5, 5, 5, 5], 5));
  net.campaign(1n);
  assert.equal(net.state(1n), StateType.StateLeader);
  net.tickAll(2);
  assert.deepEqual(net.logTerms(2n), net.logTerms(1n));
  const rejects = net.delivered.filter((m) => m.type === MessageType.MsgAppResp && m.reject && m.from === 2n);
  assert.equal(rejects.length, 1);
  assert.deepEqual([rejects[0]!.rejectHint, rejects[0]!.logTerm], [6, 2]);
  assert.equal(net.committed(2n), 10);
});

test('a follower with a higher-term divergent tail hints past it', () => {
  const net = new Network([]);
  // idx:    2 3 4 5 6 7 8 9
  // leader: 3 3 3 3 3 3 3 7   follower 2: 3 3 4 4 5 5 5 6
  net.addNodeWithStorage(1n, storageWith([3, 3, 3, 3, 3, 3, 3, 7], 7));
  net.addNodeWithStorage(2n, storageWith([3, 3, 4, 4, 5, 5, 5, 6], 7));
  net.addNodeWithStorage(3n, storageWith([3, 3, 3, 3, 3, 3, 3, 7], 7));
  net.campaign(1n);
  net.tickAll(2);
  assert.deepEqual(net.logTerms(2n), net.logTerms(1n));
  const rejects = net.delivered.filter((m) => m.type === MessageType.MsgAppResp && m.reject && m.from === 2n);
  assert.ok(rejects.length <= 2, `rejections: ${rejects.length}`);
});

test('Figure 8: a leader does not count replicas of an older-term entry as committing it', () => {
  // Nodes 1 and 2 hold an uncommitted entry 2/2 from an old leader; 3 does not.
  const mk = (withOld: boolean): MemoryStorage => {
    const s = new MemoryStorage();
    s.applySnapshot({
      data: enc.encode('[]'),
      metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters: [1n, 2n, 3n] } },
    });
    if (withOld) s.append([ent(2, 2, 'old')]);
    s.setHardState({ term: 3, vote: 0n, commit: 1 });
    return s;
  };
  const net = new Network([]);
  net.addNodeWithStorage(1n, mk(true));
  net.addNodeWithStorage(2n, mk(true));
  net.addNodeWithStorage(3n, mk(false));
  // Hold every MsgApp: the new leader's term-4 entry reaches nobody.
  const undo = net.addFilter((m) => m.type !== MessageType.MsgApp);
  net.campaign(1n);
  const r = net.rn(1n).raft;
  assert.equal(r.state, StateType.StateLeader);
  assert.equal(r.term, 4);
  // 2 (and 1) hold index 2: a majority, but of term 2.
  r.trk.progress.get(2n)!.maybeUpdate(2);
  assert.equal(r.maybeCommit(), false);
  assert.equal(r.raftLog.committed, 1);
  undo();
  net.tickAll(2);
  assert.equal(net.committed(1n), 3);
  for (const id of [1n, 2n, 3n]) assert.deepEqual(net.node(id).applied, ['old']);
});

test('followers forward proposals to the leader', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  assert.ok(net.propose(2n, 'via2'));
  for (const id of [1n, 2n, 3n]) assert.deepEqual(net.node(id).applied, ['via2']);
});

test('proposal forwarding can be disabled; proposals without a leader are dropped', () => {
  const net = new Network([1n, 2n, 3n], { config: { disableProposalForwarding: true } });
  assert.throws(() => net.rn(1n).propose(enc.encode('x')), ErrProposalDropped);
  net.campaign(1n);
  assert.throws(() => net.rn(2n).propose(enc.encode('x')), ErrProposalDropped);
  assert.ok(net.propose(1n, 'ok'));
});

test('a candidate drops proposals', () => {
  const net = new Network([1n, 2n, 3n]);
  net.isolate(1n);
  net.campaign(1n);
  assert.equal(net.state(1n), StateType.StateCandidate);
  assert.throws(() => net.rn(1n).propose(enc.encode('x')), ErrProposalDropped);
});

test('maxUncommittedEntriesSize drops proposals once the uncommitted tail is full', () => {
  const net = new Network([1n, 2n, 3n], { config: { maxUncommittedEntriesSize: 10 } });
  net.campaign(1n);
  const undo = net.isolate(1n);
  net.rn(1n).propose(enc.encode('12345678'));
  net.rn(1n).propose(enc.encode('12'));
  assert.throws(() => net.rn(1n).propose(enc.encode('1')), ErrProposalDropped);
  undo();
  net.stabilize();
  net.tickAll(2);
  // Committed and applied: the budget is free again.
  assert.ok(net.propose(1n, 'again'));
  assert.deepEqual(net.node(2n).applied, ['12345678', '12', 'again']);
});

test('flow control: inflights bound unacked MsgApps and maxSizePerMsg splits batches', () => {
  const net = new Network([1n, 2n], { config: { maxInflightMsgs: 2, maxSizePerMsg: 1 } });
  net.campaign(1n);
  // Hold 2's acks: the leader may have at most 2 MsgApps with entries outstanding.
  const undo = net.addFilter((m) => !(m.type === MessageType.MsgAppResp && m.from === 2n));
  for (let i = 0; i < 5; i++) net.rn(1n).propose(enc.encode(`p${i}`));
  net.stabilize();
  const apps = net.delivered.filter(
    (m) => m.type === MessageType.MsgApp && m.to === 2n && m.entries.length > 0,
  );
  const afterElection = apps.filter((m) => m.entries.some((e) => e.data.length > 0));
  assert.ok(afterElection.length <= 2, `sent ${afterElection.length}`);
  for (const m of apps) assert.equal(m.entries.length, 1);
  const pr = net.rn(1n).raft.trk.progress.get(2n)!;
  assert.equal(pr.state, ProgressStateType.StateReplicate);
  assert.ok(pr.inflights.full());
  undo();
  net.tickAll(5);
  assert.deepEqual(net.node(2n).applied, ['p0', 'p1', 'p2', 'p3', 'p4']);
});

test('an unreachable follower falls back to probing', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const pr = () => net.rn(1n).raft.trk.progress.get(2n)!;
  assert.equal(pr().state, ProgressStateType.StateReplicate);
  net.rn(1n).reportUnreachable(2n);
  assert.equal(pr().state, ProgressStateType.StateProbe);
  net.tickAll(2);
  assert.equal(pr().state, ProgressStateType.StateReplicate);
});
