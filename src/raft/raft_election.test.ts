import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Network } from './testing/network.ts';
import { StateType } from './status.ts';
import { MessageType } from './raftpb.ts';

test('a campaigning node wins a 3-node election and commits an empty entry of its term', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  assert.deepEqual(net.leaders(), [1n]);
  assert.equal(net.term(1n), 2);
  for (const id of [1n, 2n, 3n]) assert.equal(net.committed(id), 2);
  assert.equal(net.rn(2n).basicStatus().softState.lead, 1n);
});

test('single node elects itself and commits proposals', () => {
  const net = new Network([1n]);
  net.campaign(1n);
  assert.deepEqual(net.leaders(), [1n]);
  assert.ok(net.propose(1n, 'a'));
  assert.deepEqual(net.node(1n).applied, ['a']);
});

test('ticks alone elect exactly one leader; randomised timeouts break split votes', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const net = new Network([1n, 2n, 3n, 4n, 5n], { seed });
    for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tickAll();
    assert.equal(net.leaders().length, 1, `seed ${seed}`);
  }
});

test('a split vote resolves in a later term', () => {
  const net = new Network([1n, 2n, 3n, 4n]);
  // 1 and 2 campaign at once; 3 votes for 1 and 4 for 2: nobody has 3 of 4.
  net.addFilter(
    (m) =>
      !(m.type === MessageType.MsgVote && ((m.from === 1n && m.to === 4n) || (m.from === 2n && m.to === 3n))),
  );
  net.rn(1n).campaign();
  net.rn(2n).campaign();
  net.stabilize();
  assert.deepEqual(net.leaders(), []);
  assert.equal(net.term(1n), 2);
  net.heal();
  for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tickAll();
  assert.equal(net.leaders().length, 1);
  assert.ok(net.term(net.leaders()[0]!) > 2);
});

test('a node with a stale log cannot win', () => {
  const net = new Network([1n, 2n, 3n]);
  net.campaign(1n);
  const undo = net.isolate(3n);
  net.propose(1n, 'x');
  undo();
  net.campaign(3n);
  assert.notEqual(net.state(3n), StateType.StateLeader);
  // 3's higher term deposes 1 (no pre-vote); then 1 or 2 wins again.
  for (let i = 0; i < 100 && net.leaders().length === 0; i++) net.tickAll();
  assert.notDeepEqual(net.leaders(), [3n]);
  assert.equal(net.leaders().length, 1);
});
