import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { MemoryStorage } from './storage.ts';
import { StateType } from './status.ts';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  emptyConfState,
  type ConfChange,
  type ConfChangeV2,
  type NodeId,
} from './raftpb.ts';

const enc = new TextEncoder();

function cc(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { type, nodeId, context: new Uint8Array(0), id: 0n };
}

/** A new member's storage: the cluster's bootstrap snapshot, in which it is not (yet) a member. */
function joinerStorage(voters: NodeId[]): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot({
    data: enc.encode('[]'),
    metadata: { index: 1, term: 1, confState: { ...emptyConfState(), voters } },
  });
  return s;
}

test('adding a node: it catches up and then counts for quorum', () => {
  const net = new Network([1n, 2n, 3n]);
  net.addNodeWithStorage(4n, joinerStorage([1n, 2n, 3n]));
  net.campaign(1n);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddNode, 4n));
  net.stabilize();
  for (const id of [1n, 2n, 3n, 4n]) assert.deepEqual(net.node(id).confState.voters, [1n, 2n, 3n, 4n]);
  // With 4 voters, 1 and 2 alone are no quorum...
  net.isolate(3n);
  net.isolate(4n);
  net.propose(1n, 'x');
  assert.equal(net.node(1n).applied.length, 0);
  // ...and 4 completes one.
  net.heal();
  net.isolate(3n);
  net.tickAll(2);
  assert.deepEqual(net.node(4n).applied, ['x']);
});

test('a removed node stops campaigning; the rest keep a quorum of the new config', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 3n));
  net.stabilize();
  assert.deepEqual(net.node(1n).confState.voters, [1n, 2n]);
  assert.deepEqual(net.node(3n).confState.voters, [1n, 2n]);
  net.isolate(3n);
  for (let i = 0; i < 50; i++) net.tick(3n);
  net.stabilize();
  assert.equal(net.state(3n), StateType.StateFollower);
  assert.ok(net.propose(1n, 'y'));
  assert.deepEqual(net.node(2n).applied, ['y']);
});

test('only one conf change may be pending: a second is turned into an empty entry', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.addFilter(() => false);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddLearnerNode, 4n));
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddLearnerNode, 5n));
  undo();
  net.stabilize();
  const ents = net.node(1n).appliedEntries.slice(-2);
  assert.deepEqual(
    ents.map((e) => e.type),
    [EntryType.EntryConfChange, EntryType.EntryNormal],
  );
  assert.deepEqual(net.node(1n).confState.learners, [4n]);
});

test('joint consensus: entering with two changes and leaving automatically', () => {
  const net = new Network([1n, 2n, 3n]);
  net.addNodeWithStorage(4n, joinerStorage([1n, 2n, 3n]));
  net.addNodeWithStorage(5n, joinerStorage([1n, 2n, 3n]));
  net.campaign(1n);
  const v2: ConfChangeV2 = {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 4n },
      { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3n },
    ],
    context: new Uint8Array(0),
  };
  net.rn(1n).proposeConfChange(v2);
  net.stabilize();
  const cs = net.node(1n).confState;
  assert.deepEqual(cs.voters, [1n, 2n, 4n]);
  assert.deepEqual(cs.votersOutgoing, []);
  assert.equal(cs.autoLeave, false);
  // Two V2 entries were applied: the change itself (joint) and the leader's empty one to leave.
  const v2s = net.node(2n).appliedEntries.filter((e) => e.type === EntryType.EntryConfChangeV2);
  assert.equal(v2s.length, 2);
  assert.equal(v2s[1]!.data.length, 0);
  assert.deepEqual(net.node(4n).confState.voters, [1n, 2n, 4n]);
});

test('joint consensus: explicit transition stays joint until an empty change is proposed', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.rn(1n).proposeConfChange({
    transition: ConfChangeTransition.ConfChangeTransitionJointExplicit,
    changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3n }],
    context: new Uint8Array(0),
  });
  net.stabilize();
  assert.deepEqual(net.node(1n).confState.votersOutgoing, [1n, 2n, 3n]);
  assert.deepEqual(net.node(1n).confState.learnersNext, [3n]);
  net.rn(1n).proposeConfChange({ transition: 0, changes: [], context: new Uint8Array(0) });
  net.stabilize();
  assert.deepEqual(net.node(1n).confState.voters, [1n, 2n]);
  assert.deepEqual(net.node(1n).confState.learners, [3n]);
});

test('learners replicate but neither count for quorum nor campaign', () => {
  const net = new Network([1n, 2n], { learners: [3n] });
  for (let i = 0; i < 50; i++) net.tick(3n);
  net.stabilize();
  assert.equal(net.state(3n), StateType.StateFollower);
  net.campaign(1n);
  net.isolate(2n);
  net.propose(1n, 'z');
  assert.equal(net.node(1n).applied.length, 0);
  assert.equal(net.rn(3n).raft.raftLog.lastIndex(), net.rn(1n).raft.raftLog.lastIndex());
  net.heal();
  net.tickAll(2);
  assert.deepEqual(net.node(3n).applied, ['z']);
});

test('a removed leader steps down when stepDownOnRemoval is set', () => {
  const net = new Network([1n, 2n, 3n], { config: { stepDownOnRemoval: true } });
  net.campaign(1n);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 1n));
  net.stabilize();
  assert.notEqual(net.state(1n), StateType.StateLeader);
  for (let i = 0; i < 50 && net.leaders().length === 0; i++) net.tickAll();
  assert.equal(net.leaders().length, 1);
  assert.notEqual(net.leaders()[0], 1n);
});

test('a removed leader keeps leading (without taking proposals) by default', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeRemoveNode, 1n));
  net.stabilize();
  assert.equal(net.state(1n), StateType.StateLeader);
  assert.equal(net.propose(1n, 'no'), false);
});

test('a learner is promoted to voter', () => {
  const net = new Network([1n, 2n], { learners: [3n] });
  net.campaign(1n);
  net.rn(1n).proposeConfChange(cc(ConfChangeType.ConfChangeAddNode, 3n));
  net.stabilize();
  assert.deepEqual(net.node(3n).confState.voters, [1n, 2n, 3n]);
  assert.deepEqual(net.node(3n).confState.learners, []);
  net.rn(3n).transferLeader(3n);
  net.stabilize();
  assert.deepEqual(net.leaders(), [3n]);
});
