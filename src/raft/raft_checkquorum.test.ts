import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { StateType } from './status.ts';
import { MessageType } from './raftpb.ts';

test('pre-vote: a partitioned node rejoining does not disrupt a stable leader', () => {
  const net = new Network([1n, 2n, 3n], { config: { preVote: true } });
  net.campaign(1n);
  const term = net.term(1n);
  const undo = net.isolate(3n);
  // 3 times out repeatedly but never wins a pre-vote, so its term never moves.
  for (let i = 0; i < 50; i++) net.tickAll();
  assert.equal(net.term(3n), term);
  assert.equal(net.state(3n), StateType.StatePreCandidate);
  undo();
  net.tickAll(3);
  assert.deepEqual(net.leaders(), [1n]);
  assert.equal(net.term(1n), term);
  assert.equal(net.state(3n), StateType.StateFollower);
});

test('without pre-vote a rejoining node with a higher term forces a new election', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const term = net.term(1n);
  const undo = net.isolate(3n);
  for (let i = 0; i < 30; i++) net.tickAll();
  assert.ok(net.term(3n) > term);
  undo();
  for (let i = 0; i < 50 && !(net.leaders().length === 1 && net.term(net.leaders()[0]!) > term); i++)
    net.tickAll();
  assert.ok(net.term(1n) > term);
});

test('without check-quorum or pre-vote, a node with a higher term answers a stale leader so it steps down', () => {
  // 3's vote requests never reach anyone (as when its stale configuration names only removed nodes),
  // so only its answer to the leader's heartbeat can raise the leader's term.
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const term = net.term(1n);
  const undo = net.isolate(3n);
  for (let i = 0; i < 30; i++) net.tick(3n);
  net.stabilize();
  assert.ok(net.term(3n) > term);
  undo();
  net.addFilter((m) => !(m.from === 3n && m.type === MessageType.MsgVote));
  net.delivered = [];
  net.tick(1n); // a heartbeat
  net.stabilize();
  assert.ok(
    net.delivered.some(
      (m) => m.from === 3n && m.to === 1n && m.type === MessageType.MsgAppResp && m.term > term,
    ),
  );
  assert.equal(net.term(1n), net.term(3n));
  assert.notEqual(net.state(1n), StateType.StateLeader);
});

test('check-quorum: a leader cut off from the quorum steps down within an election timeout', () => {
  const net = new Network([1n, 2n, 3n], { config: { checkQuorum: true } });
  net.campaign(1n);
  net.isolate(1n);
  // The first check may see the activity from before the cut; the second cannot.
  for (let i = 0; i < 20; i++) net.tick(1n);
  net.stabilize();
  assert.equal(net.state(1n), StateType.StateFollower);
});

test('check-quorum: a leader in contact with the quorum keeps leading', () => {
  const net = new Network([1n, 2n, 3n], { config: { checkQuorum: true } });
  net.campaign(1n);
  net.isolate(3n);
  for (let i = 0; i < 40; i++) net.tickAll();
  assert.equal(net.state(1n), StateType.StateLeader);
});

test('leader lease: followers that heard from the leader ignore a disruptive vote request', () => {
  const net = new Network([1n, 2n, 3n], { config: { checkQuorum: true } });
  net.campaign(1n);
  const term = net.term(1n);
  // 3 campaigns without having timed out (e.g. a bug or a removed node): 2 ignores it.
  net.delivered = [];
  net.rn(3n).campaign();
  net.stabilize();
  assert.equal(net.term(2n), term);
  assert.equal(net.state(1n), StateType.StateLeader);
  assert.ok(!net.delivered.some((m) => m.type === MessageType.MsgVoteResp && m.from === 2n));
});

test('check-quorum + pre-vote: a lagging leader in a minority is replaced and rejoins as follower', () => {
  const net = new Network([1n, 2n, 3n], { config: { checkQuorum: true, preVote: true } });
  net.campaign(1n);
  const undo = net.isolate(1n);
  for (let i = 0; i < 60 && !net.leaders().some((id) => id !== 1n); i++) net.tickAll();
  const [newLeader] = net.leaders().filter((id) => id !== 1n);
  assert.ok(newLeader !== undefined);
  undo();
  net.tickAll(5);
  assert.deepEqual(net.leaders(), [newLeader]);
  assert.equal(net.rn(1n).basicStatus().softState.lead, newLeader);
});

test('forgetLeader lets a follower vote at once (outside lease-based reads)', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  net.rn(2n).forgetLeader();
  assert.equal(net.rn(2n).basicStatus().softState.lead, 0n);
});
