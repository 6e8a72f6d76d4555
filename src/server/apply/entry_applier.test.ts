import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ErrCorrupt, ErrNoSpace } from '../errors.ts';
import { AlarmStore, AlarmType } from '../alarm_store.ts';
import { Op } from '../raft_request.ts';
import { EntryApplier } from './entry_applier.ts';

/** An in-memory alarm bucket (the alarm store's only backend calls). */
function alarmStore(): AlarmStore {
  const bucket = new Map<string, Buffer>();
  const be = {
    put: (_b: string, k: Uint8Array) => bucket.set(Buffer.from(k).toString('hex'), Buffer.alloc(0)),
    del: (_b: string, k: Uint8Array) => bucket.delete(Buffer.from(k).toString('hex')),
    forEach: () => undefined,
  };
  return new AlarmStore(be as never);
}

function setup() {
  const alarms = alarmStore();
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const proposals: { op: Op; req: { alarm: number } }[] = [];
  let settle: (() => void) | undefined;
  const skipped: number[] = [];
  const kv = { setConsistentIndex: (i: number) => skipped.push(i), rev: () => 1 };
  const ea = new EntryApplier({
    stores: { alarms, kv } as never,
    proposer: {} as never,
    raft: {} as never,
    peers: {} as never,
    committer: { schedule: () => undefined },
    memberId: 0x2an,
    log,
    quota: { bytes: 300000, available: () => true },
    alarmProposer: {
      propose(op, _raw, req) {
        proposals.push({ op, req: req as never });
        return new Promise((r) => (settle = () => r(undefined)));
      },
    },
  });
  return { ea, alarms, lines, proposals, skipped, settle: () => settle!() };
}

const put = {
  key: Buffer.from('k'),
  value: Buffer.from('v'),
  lease: 0,
  prevKv: false,
  ignoreValue: false,
  ignoreLease: false,
};

test("ErrNoSpace raises this member's NOSPACE once while the proposal is in flight, not when raised already", async () => {
  const s = setup();
  const first = s.ea.onNoSpace();
  assert.ok(first);
  assert.equal(s.ea.onNoSpace(), first, 'a second entry waits for the same proposal');
  assert.equal(s.proposals.length, 1);
  assert.equal(s.proposals[0]!.op, Op.Alarm);
  assert.equal(s.proposals[0]!.req.alarm, AlarmType.NOSPACE);
  assert.deepEqual(
    s.lines.map((l) => [l.msg, l['quota-size-bytes']]),
    [['message exceeded backend quota; raising alarm', 300000]],
  );
  s.settle();
  await first;
  s.alarms.activate(0x2an, AlarmType.NOSPACE);
  assert.equal(s.ea.onNoSpace(), undefined, 'NOSPACE is raised: the answer goes at once');
  assert.equal(s.proposals.length, 1);
});

test('the alarms raised choose the chain, and each change is logged as etcd logs it', () => {
  const s = setup();
  const alarm = (action: number, memberID: number, type: number) =>
    s.ea.applier().alarm({ action, memberID, alarm: type });
  const plain = s.ea.applier();
  s.ea.setPosition({ index: 7, term: 1 });
  alarm(1, 0x2a, AlarmType.NOSPACE);
  s.ea.setPosition({ index: 8, term: 1 });
  assert.throws(() => s.ea.applier().put(put), ErrNoSpace);
  assert.deepEqual(s.skipped, [7, 8], "a refused entry's index is recorded");
  alarm(1, 0x2b, AlarmType.NOSPACE);
  alarm(1, 0x2b, AlarmType.CORRUPT);
  assert.throws(() => s.ea.applier().put(put), ErrCorrupt);
  alarm(2, 0x2a, AlarmType.NOSPACE);
  alarm(2, 0x2b, AlarmType.NOSPACE);
  alarm(2, 0x2b, AlarmType.CORRUPT);
  assert.equal(s.ea.applier(), plain, 'every alarm disarmed: the quota chain again');
  assert.deepEqual(
    s.lines.map((l) => [l.msg, l['alarm'], l['from']]),
    [
      ['alarm raised', 'NOSPACE', '2a'],
      ['alarm raised', 'CORRUPT', '2b'],
      ['alarm disarmed', 'NOSPACE', '2b'],
      ['alarm disarmed', 'CORRUPT', '2b'],
    ],
    'only the first alarm of a type and the last disarm are logged',
  );
});
