import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { ReadOnlyOption } from './read_only.ts';
import { MessageType } from './raftpb.ts';

const enc = new TextEncoder();

test('read index on the leader is confirmed by a heartbeat quorum', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.propose(1n, 'a');
  const undo = net.addFilter((m) => m.type !== MessageType.MsgHeartbeatResp);
  net.rn(1n).readIndex(enc.encode('r1'));
  net.stabilize();
  assert.deepEqual(net.node(1n).readStates, []);
  undo();
  net.rn(1n).readIndex(enc.encode('r2'));
  net.stabilize();
  // The ack for r2 also answers the earlier r1.
  assert.deepEqual(net.node(1n).readStates, [
    { index: 3, ctx: 'r1' },
    { index: 3, ctx: 'r2' },
  ]);
});

test('a follower forwards read index to the leader and gets the leader commit index', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.propose(1n, 'a');
  net.rn(2n).readIndex(enc.encode('f'));
  net.stabilize();
  assert.deepEqual(net.node(2n).readStates, [{ index: 3, ctx: 'f' }]);
  assert.ok(net.delivered.some((m) => m.type === MessageType.MsgReadIndexResp && m.to === 2n));
});

test('a new leader defers reads until it commits an entry of its term', () => {
  const net = new Network([1n, 2n, 3n]);
  const undo = net.addFilter((m) => m.type !== MessageType.MsgAppResp);
  net.campaign(1n);
  net.rn(1n).readIndex(enc.encode('early'));
  net.stabilize();
  assert.deepEqual(net.node(1n).readStates, []);
  assert.equal(net.rn(1n).raft.pendingReadIndexMessages.length, 1);
  undo();
  net.tickAll(2);
  assert.deepEqual(net.node(1n).readStates, [{ index: 2, ctx: 'early' }]);
});

test('single voter answers reads at once', () => {
  const net = new Network([1n]);
  net.campaign(1n);
  net.rn(1n).readIndex(enc.encode('s'));
  net.stabilize();
  assert.deepEqual(net.node(1n).readStates, [{ index: 2, ctx: 's' }]);
});

test('lease-based reads need no heartbeat round', () => {
  const net = new Network([1n, 2n, 3n], {
    config: { checkQuorum: true, readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased },
  });
  net.campaign(1n);
  net.isolate(2n);
  net.isolate(3n);
  net.rn(1n).readIndex(enc.encode('l'));
  net.stabilize();
  assert.deepEqual(net.node(1n).readStates, [{ index: 2, ctx: 'l' }]);
});

test('a follower without a leader drops reads', () => {
  const net = new Network([1n, 2n, 3n]);
  net.rn(2n).readIndex(enc.encode('x'));
  net.stabilize();
  assert.deepEqual(net.node(2n).readStates, []);
  assert.equal(net.delivered.length, 0);
});
