import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { StateType } from './status.ts';
import { MessageType } from './raftpb.ts';
import { ErrProposalDropped, ErrSnapshotTemporarilyUnavailable } from './errors.ts';
import { SnapshotStatus } from './rawnode.ts';
import { ProgressStateType } from './tracker/progress.ts';

const enc = new TextEncoder();

test('leader transfer to an up-to-date follower', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.propose(1n, 'a');
  net.rn(1n).transferLeader(2n);
  net.stabilize();
  assert.deepEqual(net.leaders(), [2n]);
  assert.ok(net.delivered.some((m) => m.type === MessageType.MsgTimeoutNow && m.to === 2n));
  assert.ok(net.propose(2n, 'b'));
  assert.deepEqual(net.node(1n).applied, ['a', 'b']);
});

test('leader transfer requested on a follower is forwarded to the leader', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.rn(3n).transferLeader(3n);
  net.stabilize();
  assert.deepEqual(net.leaders(), [3n]);
});

test('leader transfer to a lagging follower first catches it up', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.isolate(3n);
  net.propose(1n, 'a');
  undo();
  net.rn(1n).transferLeader(3n);
  net.stabilize();
  assert.deepEqual(net.leaders(), [3n]);
  assert.deepEqual(net.node(3n).applied, ['a']);
});

test('proposals are dropped during a transfer, which is abandoned after an election timeout', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.isolate(3n);
  net.rn(1n).transferLeader(3n);
  net.stabilize();
  assert.equal(net.rn(1n).basicStatus().leadTransferee, 3n);
  assert.throws(() => net.rn(1n).propose(enc.encode('x')), ErrProposalDropped);
  for (let i = 0; i < 10; i++) net.tick(1n);
  net.stabilize();
  assert.equal(net.rn(1n).basicStatus().leadTransferee, 0n);
  assert.equal(net.state(1n), StateType.StateLeader);
  assert.ok(net.propose(1n, 'y'));
});

test('transfer vote bypasses the leader lease', () => {
  const net = new Network([1n, 2n, 3n], { config: { checkQuorum: true, preVote: true } });
  net.campaign(1n);
  net.rn(1n).transferLeader(2n);
  net.stabilize();
  assert.deepEqual(net.leaders(), [2n]);
});

test('a follower behind the compacted log receives a snapshot and catches up', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.isolate(3n);
  for (const d of ['a', 'b', 'c']) net.propose(1n, d);
  const idx = net.compact(1n);
  assert.equal(net.node(1n).storage.firstIndex(), idx + 1);
  undo();
  net.tickAll(3);
  assert.ok(net.delivered.some((m) => m.type === MessageType.MsgSnap && m.to === 3n));
  assert.deepEqual(net.node(3n).applied, ['a', 'b', 'c']);
  net.rn(1n).reportSnapshot(3n, SnapshotStatus.SnapshotFinish);
  net.propose(1n, 'd');
  assert.deepEqual(net.node(3n).applied, ['a', 'b', 'c', 'd']);
  assert.equal(net.rn(1n).status().progress.get(3n)!.state, ProgressStateType.StateReplicate);
});

test('a failed snapshot sends the follower back to probing', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.isolate(3n);
  net.propose(1n, 'a');
  net.compact(1n);
  undo();
  const drop = net.addFilter((m) => m.type !== MessageType.MsgSnap);
  net.tickAll(2);
  const pr = () => net.rn(1n).raft.trk.progress.get(3n)!;
  assert.equal(pr().state, ProgressStateType.StateSnapshot);
  net.rn(1n).reportSnapshot(3n, SnapshotStatus.SnapshotFailure);
  assert.equal(pr().state, ProgressStateType.StateProbe);
  assert.equal(pr().pendingSnapshot, 0);
  drop();
  net.tickAll(3);
  assert.deepEqual(net.node(3n).applied, ['a']);
});

test('a snapshot temporarily unavailable is retried later', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.isolate(3n);
  net.propose(1n, 'a');
  net.compact(1n);
  const st = net.node(1n).storage;
  const orig = st.snapshot.bind(st);
  let unavailable = true;
  st.snapshot = () => {
    if (unavailable) throw new ErrSnapshotTemporarilyUnavailable();
    return orig();
  };
  undo();
  net.tickAll(3);
  assert.notEqual(net.rn(1n).raft.trk.progress.get(3n)!.state, ProgressStateType.StateSnapshot);
  assert.deepEqual(net.node(3n).applied, []);
  unavailable = false;
  net.tickAll(3);
  assert.deepEqual(net.node(3n).applied, ['a']);
});
