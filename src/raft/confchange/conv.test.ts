import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeTransition, ConfChangeType, type ConfChangeV2 } from '../raftpb.ts';
import {
  confChangeAsV2,
  confChangesFromString,
  confChangesToString,
  enterJoint,
  leaveJoint,
} from './conv.ts';

const { ConfChangeTransitionAuto: Auto, ConfChangeTransitionJointImplicit: Implicit } = ConfChangeTransition;
const Explicit = ConfChangeTransition.ConfChangeTransitionJointExplicit;
const ctx = new Uint8Array([1, 2]);
const v2 = (transition: ConfChangeTransition, s: string): ConfChangeV2 => ({
  transition,
  changes: confChangesFromString(s),
  context: ctx,
});

test('confChangeAsV2: a v1 change becomes one auto-transition change with its context; v2 is unchanged', () => {
  const got = confChangeAsV2({
    type: ConfChangeType.ConfChangeRemoveNode,
    nodeId: 7n,
    context: ctx,
    id: 99n,
  });
  assert.deepEqual(got, {
    transition: Auto,
    changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: 7n }],
    context: ctx,
  });
  const cc = v2(Explicit, 'v1');
  assert.equal(confChangeAsV2(cc), cc);
});

test('enterJoint: joint iff more than one change or a non-auto transition', () => {
  assert.deepEqual(enterJoint(v2(Auto, '')), { autoLeave: false, ok: false });
  assert.deepEqual(enterJoint(v2(Auto, 'v1')), { autoLeave: false, ok: false });
  assert.deepEqual(enterJoint(v2(Auto, 'v1 v2')), { autoLeave: true, ok: true });
  assert.deepEqual(enterJoint(v2(Implicit, 'v1')), { autoLeave: true, ok: true });
  assert.deepEqual(enterJoint(v2(Explicit, 'v1')), { autoLeave: false, ok: true });
  assert.deepEqual(enterJoint(v2(Explicit, '')), { autoLeave: false, ok: true });
  assert.throws(() => enterJoint(v2(7 as ConfChangeTransition, 'v1')), /unknown transition/);
});

test('leaveJoint: only the empty auto change (context allowed)', () => {
  assert.equal(leaveJoint(v2(Auto, '')), true);
  assert.equal(leaveJoint(v2(Auto, 'v1')), false);
  assert.equal(leaveJoint(v2(Explicit, '')), false);
});

test('confChangesFromString parses v/l/r/u with uint64 ids; rejects bad tokens', () => {
  assert.deepEqual(confChangesFromString('v1 l2 r3 u4'), [
    { type: ConfChangeType.ConfChangeAddNode, nodeId: 1n },
    { type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2n },
    { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3n },
    { type: ConfChangeType.ConfChangeUpdateNode, nodeId: 4n },
  ]);
  assert.deepEqual(confChangesFromString('   '), []);
  assert.equal(confChangesFromString('v18446744073709551615')[0]?.nodeId, (1n << 64n) - 1n);
  for (const bad of ['x1', 'v', 'v-1', 'v1a', 'v18446744073709551616']) {
    assert.throws(() => confChangesFromString(bad), /unknown input/, bad);
  }
  assert.equal(confChangesToString(confChangesFromString('l10  v2\tr3')), 'l10 v2 r3');
  assert.equal(confChangesToString([]), '');
});
