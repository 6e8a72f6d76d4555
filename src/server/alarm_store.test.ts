import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageType, toBigInt } from '../proto/index.ts';
import { AlarmStore, AlarmType, decodeAlarmMember, encodeAlarmMember } from './alarm_store.ts';

const AlarmMemberPb = messageType('etcdserverpb.AlarmMember');

/** An in-memory stand-in for the backend's alarm bucket. */
function fakeBackend() {
  const bucket = new Map<string, Buffer>();
  return {
    bucket,
    put: (_b: string, k: Uint8Array, v: Uint8Array) =>
      bucket.set(Buffer.from(k).toString('hex'), Buffer.from(v)),
    del: (_b: string, k: Uint8Array) => bucket.delete(Buffer.from(k).toString('hex')),
    forEach: (_b: string, _s: unknown, _e: unknown, fn: (k: Buffer, v: Buffer) => void) => {
      for (const [k, v] of bucket) fn(Buffer.from(k, 'hex'), v);
    },
  };
}

test('alarm keys are the AlarmMember bytes protobuf gives (zero fields left out) and read back', () => {
  for (const m of [
    { memberId: 0x13c14e0a6ed74f4n, alarm: AlarmType.NOSPACE },
    { memberId: 0xfce0ea23b2c8131bn, alarm: AlarmType.CORRUPT },
    { memberId: 0n, alarm: AlarmType.NOSPACE },
    { memberId: 7n, alarm: AlarmType.NONE },
  ]) {
    const mine = encodeAlarmMember(m);
    const ref = AlarmMemberPb.decode(mine) as unknown as { memberID: unknown; alarm: number };
    assert.equal(toBigInt(ref.memberID as never, true), m.memberId);
    assert.equal(ref.alarm, m.alarm);
    assert.deepEqual(decodeAlarmMember(mine), m);
    if (m.memberId === 0n) assert.equal(mine[0], 0x10, 'a zero member ID is not written');
  }
  assert.deepEqual([...encodeAlarmMember({ memberId: 1n, alarm: 1 })], [0x08, 0x01, 0x10, 0x01]);
  assert.deepEqual([...encodeAlarmMember({ memberId: 7n, alarm: 0 })], [0x08, 0x07], 'NONE is not written');
});

test('activate persists once and returns the alarm already raised; deactivate removes it; a reload reads the bucket', () => {
  const be = fakeBackend();
  const s = new AlarmStore(be as never);
  const a = s.activate(5n, AlarmType.NOSPACE);
  assert.equal(s.activate(5n, AlarmType.NOSPACE), a, 'the same alarm again is the one raised');
  s.activate(6n, AlarmType.CORRUPT);
  assert.equal(be.bucket.size, 2);
  assert.equal(s.get(AlarmType.NONE).length, 2);
  assert.deepEqual(s.get(AlarmType.NOSPACE), [{ memberId: 5n, alarm: 1 }]);
  const again = new AlarmStore(be as never);
  assert.equal(again.get(AlarmType.NONE).length, 2, 'a restart finds them in the bucket');
  assert.deepEqual(s.deactivate(5n, AlarmType.NOSPACE), { memberId: 5n, alarm: 1 });
  assert.equal(s.deactivate(5n, AlarmType.NOSPACE), undefined, 'not raised any more');
  assert.equal(be.bucket.size, 1);
  again.reload();
  assert.deepEqual(again.get(AlarmType.NONE), [{ memberId: 6n, alarm: 2 }]);
});
