// The error table: etcd 3.4's codes and messages, most specific class first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Code } from './status.ts';
import { toStatus } from './errors.ts';
import * as E from '../../server/errors.ts';
import { ErrCompacted } from '../../mvcc/errors.ts';
import { ErrNotEnoughStartedMembers } from '../../membership/errors.ts';

test('a subclass keeps its own code: not leader is FailedPrecondition, not capable is Unavailable', () => {
  assert.deepEqual(toStatus(new E.ErrNotLeader()), {
    code: Code.FAILED_PRECONDITION,
    details: 'etcdserver: not leader',
    unknown: false,
  });
  assert.deepEqual(toStatus(new E.ErrNotCapable()), {
    code: Code.UNAVAILABLE,
    details: 'etcdserver: not capable',
    unknown: false,
  });
});

test('leader changed and a slow leader transfer are Unavailable, so clients fail over', () => {
  for (const e of [new E.ErrLeaderChanged(), new E.ErrTimeoutLeaderTransfer(), new E.ErrTimeout()]) {
    assert.equal(toStatus(e).code, Code.UNAVAILABLE, e.message);
    assert.equal(toStatus(e).details, e.message);
  }
  assert.equal(new E.ErrLeaderChanged().message, 'etcdserver: leader changed');
});

test('store errors get the message etcd puts on the wire; unknown errors are Unknown', () => {
  const s = toStatus(new ErrCompacted());
  assert.equal(s.code, Code.OUT_OF_RANGE);
  assert.equal(s.details, 'etcdserver: mvcc: required revision has been compacted');
  assert.equal(toStatus(new Error('boom')).unknown, true);
  assert.equal(toStatus(new Error('boom')).code, Code.UNKNOWN);
});

test('errors etcd 3.4 sends as Unknown: its table maps them to client-side values, or they are outside it', () => {
  for (const [e, details] of [
    [
      new ErrNotEnoughStartedMembers(),
      'etcdserver: re-configuration failed due to not enough started members',
    ],
    [new E.ErrTooManyRequests(), 'etcdserver: too many requests'],
    [new E.ErrProposeDeadline(), 'context deadline exceeded'],
    [new E.ErrCanceled(), 'etcdserver: request cancelled'],
  ] as const) {
    assert.deepEqual(toStatus(e), { code: Code.UNKNOWN, details, unknown: false });
  }
  assert.deepEqual(toStatus(new E.ErrTimeoutDueToLeaderFail()), {
    code: Code.UNAVAILABLE,
    details: 'etcdserver: request timed out, possibly due to previous leader failure',
    unknown: false,
  });
});
