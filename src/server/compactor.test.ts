import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { ErrCompacted, ErrFutureRev } from '../mvcc/errors.ts';
import {
  checkCompactionMode,
  goDuration,
  newCompactor,
  parseCompactionRetention,
  REVISION_INTERVAL_MS,
  retentionText,
  type CompactionMode,
  type CompactorClock,
} from './compactor.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Timers fire in time order as the test advances the clock; a compaction's promise settles in between. */
class FakeClock implements CompactorClock {
  t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  pending(): number {
    return this.timers.filter((x) => x.live).length;
  }

  async advanceTo(t: number): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.timers = this.timers.filter((x) => x.live);
      const next = this.timers.sort((a, b) => a.at - b.at)[0];
      if (!next || next.at > t) break;
      this.t = next.at;
      next.live = false;
      next.fn();
    }
    this.t = t;
  }
}

interface Line {
  level: 'info' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

function harness(mode: CompactionMode, retention: number, rev: (t: number) => number) {
  const clock = new FakeClock();
  const lines: Line[] = [];
  const log = {
    info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', msg, fields }),
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', msg, fields }),
  } as unknown as Logger;
  const calls: { at: number; rev: number }[] = [];
  let failWith: (() => Error) | undefined;
  const c = newCompactor({
    mode,
    retention,
    rev: () => rev(clock.t),
    compact: (r) => {
      calls.push({ at: clock.t, rev: r });
      return failWith ? Promise.reject(failWith()) : Promise.resolve({});
    },
    log,
    clock,
  });
  return {
    clock,
    lines,
    calls,
    c,
    failNext(f: (() => Error) | undefined) {
      failWith = f;
    },
  };
}

/** One write a minute: revision 1 at t=0. */
const perMinute = (t: number) => 1 + Math.floor(t / MIN);

test('periodic 1h: nothing for the first hour, then every hour to the revision recorded at least an hour before', async () => {
  const h = harness('periodic', parseCompactionRetention('periodic', '1'), perMinute);
  h.c.run();
  await h.clock.advanceTo(HOUR - 1);
  assert.deepEqual(h.calls, [], 'no compaction before a whole period has passed');
  await h.clock.advanceTo(3 * HOUR + MIN);
  // Revisions are recorded every 6 minutes; the compaction at 2h uses the oldest kept (t=54m, rev 55),
  // as etcd's sliding window of 11 records does.
  assert.deepEqual(h.calls, [
    { at: HOUR, rev: 1 },
    { at: 2 * HOUR, rev: perMinute(54 * MIN) },
    { at: 3 * HOUR, rev: perMinute(114 * MIN) },
  ]);
  const start = h.lines.filter((l) => l.msg === 'starting auto periodic compaction');
  assert.deepEqual(start[1]!.fields, { revision: 55, 'compact-period': '1h0m0s' });
  const done = h.lines.filter((l) => l.msg === 'completed auto periodic compaction');
  assert.equal(done.length, 3);
  assert.deepEqual(done[1]!.fields, { revision: 55, 'compact-period': '1h0m0s', took: '1h0m0s' });
  h.c.close();
});

test('periodic 10m: records every minute and compacts every 10 minutes', async () => {
  const h = harness('periodic', parseCompactionRetention('periodic', '10m'), perMinute);
  h.c.run();
  await h.clock.advanceTo(30 * MIN + 30_000);
  assert.deepEqual(h.calls, [
    { at: 10 * MIN, rev: 1 },
    { at: 20 * MIN, rev: perMinute(9 * MIN) },
    { at: 30 * MIN, rev: perMinute(19 * MIN) },
  ]);
  assert.equal(h.lines[0]!.fields['compact-period'], '10m0s');
  h.c.close();
});

test('periodic 2h: the first compaction after 2h, then every hour (records every 6 minutes, 21 kept)', async () => {
  const h = harness('periodic', parseCompactionRetention('periodic', '2h'), perMinute);
  h.c.run();
  await h.clock.advanceTo(4 * HOUR + MIN);
  assert.deepEqual(h.calls, [
    { at: 2 * HOUR, rev: 1 },
    { at: 3 * HOUR, rev: perMinute(54 * MIN) },
    { at: 4 * HOUR, rev: perMinute(114 * MIN) },
  ]);
  h.c.close();
});

test("periodic 2h with a revision per record (etcd's TestPeriodicHourly): compacts to 1, then 10, 20, 30", async () => {
  let calls = 0;
  const h = harness('periodic', parseCompactionRetention('periodic', '2'), () => ++calls);
  h.c.run();
  await h.clock.advanceTo(5 * HOUR + MIN);
  assert.deepEqual(
    h.calls.map((c) => c.rev),
    [1, 10, 20, 30],
  );
  h.c.close();
});

test('revision mode: every 5 minutes to current - retention, when positive and changed', async () => {
  let cur = 5;
  const h = harness('revision', parseCompactionRetention('revision', '10'), () => cur);
  h.c.run();
  await h.clock.advanceTo(REVISION_INTERVAL_MS - 1);
  assert.deepEqual(h.calls, []);
  await h.clock.advanceTo(REVISION_INTERVAL_MS);
  assert.deepEqual(h.calls, [], 'current - retention <= 0: nothing to compact');
  cur = 25;
  await h.clock.advanceTo(2 * REVISION_INTERVAL_MS);
  assert.deepEqual(h.calls, [{ at: 2 * REVISION_INTERVAL_MS, rev: 15 }]);
  await h.clock.advanceTo(3 * REVISION_INTERVAL_MS);
  assert.equal(h.calls.length, 1, 'the same revision is not compacted twice');
  cur = 40;
  await h.clock.advanceTo(4 * REVISION_INTERVAL_MS);
  assert.deepEqual(h.calls[1], { at: 4 * REVISION_INTERVAL_MS, rev: 30 });
  assert.deepEqual(
    h.lines.map((l) => [l.msg, l.fields['revision'], l.fields['revision-compaction-retention']]),
    [
      ['starting auto revision compaction', 15, 10],
      ['completed auto revision compaction', 15, 10],
      ['starting auto revision compaction', 30, 10],
      ['completed auto revision compaction', 30, 10],
    ],
  );
  h.c.close();
});

test('paused (not the leader): no compaction; resumed, the next tick compacts', async () => {
  const h = harness('periodic', parseCompactionRetention('periodic', '10m'), perMinute);
  h.c.pause();
  h.c.run();
  await h.clock.advanceTo(25 * MIN + 30_000);
  assert.deepEqual(h.calls, [], 'a follower never compacts');
  h.c.resume();
  await h.clock.advanceTo(26 * MIN);
  // The window kept recording while paused: the oldest of the last 11 records (t=15m).
  assert.deepEqual(h.calls, [{ at: 26 * MIN, rev: perMinute(15 * MIN) }]);
  h.c.pause();
  await h.clock.advanceTo(60 * MIN);
  assert.equal(h.calls.length, 1);
  h.c.close();

  let cur = 100;
  const r = harness('revision', 10, () => cur);
  r.c.pause();
  r.c.run();
  await r.clock.advanceTo(3 * REVISION_INTERVAL_MS);
  assert.deepEqual(r.calls, []);
  r.c.resume();
  cur = 101;
  await r.clock.advanceTo(4 * REVISION_INTERVAL_MS);
  assert.deepEqual(r.calls, [{ at: 4 * REVISION_INTERVAL_MS, rev: 91 }]);
  r.c.close();
});

test('"already compacted" counts as done; another error is logged and retried at the next tick', async () => {
  const h = harness('periodic', parseCompactionRetention('periodic', '10m'), perMinute);
  h.c.run();
  h.failNext(() => new ErrCompacted());
  await h.clock.advanceTo(10 * MIN);
  assert.equal(h.lines[1]!.msg, 'completed auto periodic compaction');
  h.failNext(() => new ErrFutureRev());
  await h.clock.advanceTo(20 * MIN);
  const warn = h.lines.find((l) => l.level === 'warn');
  assert.deepEqual(warn, {
    level: 'warn',
    msg: 'failed auto periodic compaction',
    fields: {
      revision: perMinute(9 * MIN),
      'compact-period': '10m0s',
      'retry-interval': '1m0s',
      error: 'mvcc: required revision is a future revision',
    },
  });
  h.failNext(undefined);
  await h.clock.advanceTo(21 * MIN);
  assert.deepEqual(h.calls.at(-1), { at: 21 * MIN, rev: perMinute(10 * MIN) }, 'retried one record later');
  h.c.close();

  let cur = 50;
  const r = harness('revision', 10, () => cur);
  r.c.run();
  r.failNext(() => new ErrFutureRev());
  await r.clock.advanceTo(REVISION_INTERVAL_MS);
  assert.equal(r.lines[1]!.fields['retry-interval'], '5m0s');
  r.failNext(() => new ErrCompacted());
  await r.clock.advanceTo(2 * REVISION_INTERVAL_MS);
  assert.deepEqual(r.calls, [
    { at: REVISION_INTERVAL_MS, rev: 40 },
    { at: 2 * REVISION_INTERVAL_MS, rev: 40 },
  ]);
  assert.equal(r.lines[3]!.msg, 'completed auto revision compaction');
  r.failNext(undefined);
  await r.clock.advanceTo(3 * REVISION_INTERVAL_MS);
  assert.equal(r.calls.length, 2, 'revision 40 counts as done: not compacted again');
  cur = 51;
  r.c.close();
  await r.clock.advanceTo(10 * REVISION_INTERVAL_MS);
  assert.equal(r.calls.length, 2, 'closed: no more compactions');
  assert.equal(r.clock.pending(), 0, 'closed: no timer left');
});

test('a compaction that ends after close logs nothing and schedules nothing', async () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const log = {
    info: (_: unknown, m: string) => lines.push(m),
    warn: (_: unknown, m: string) => lines.push(m),
  };
  let finish: () => void = () => {};
  const c = newCompactor({
    mode: 'revision',
    retention: 1,
    rev: () => 10,
    compact: () => new Promise<void>((r) => (finish = r)),
    log: log as unknown as Logger,
    clock,
  });
  c.run();
  await clock.advanceTo(REVISION_INTERVAL_MS);
  assert.deepEqual(lines, ['starting auto revision compaction']);
  c.close();
  finish();
  await clock.advanceTo(2 * REVISION_INTERVAL_MS);
  assert.deepEqual(lines, ['starting auto revision compaction']);
  assert.equal(clock.pending(), 0);
});

test('--auto-compaction-retention is read as etcd 3.4 reads it', () => {
  assert.equal(parseCompactionRetention('periodic', '1'), HOUR, 'an integer is hours in periodic mode');
  assert.equal(parseCompactionRetention('periodic', '30m'), 30 * MIN);
  assert.equal(parseCompactionRetention('periodic', '1h30m'), 90 * MIN);
  assert.equal(parseCompactionRetention('periodic', '2.5s'), 2500);
  assert.equal(parseCompactionRetention('periodic', '0'), 0);
  assert.equal(parseCompactionRetention('periodic', ''), 0);
  assert.equal(
    parseCompactionRetention('revision', '1000'),
    1000,
    'an integer is revisions in revision mode',
  );
  assert.equal(parseCompactionRetention('revision', '1s'), 1e9, "a duration's nanoseconds, as etcd's");
  const refused: [string, string][] = [
    ['1.5', 'time: missing unit in duration "1.5"'],
    ['abc', 'time: invalid duration "abc"'],
    ['-1', 'time: missing unit in duration "-1"'],
    ['1x', 'time: unknown unit "x" in duration "1x"'],
    ['.', 'time: invalid duration "."'],
  ];
  for (const [v, msg] of refused) {
    assert.throws(() => parseCompactionRetention('periodic', v), {
      message: `error parsing CompactionRetention: ${msg}`,
    });
  }
  assert.throws(() => parseCompactionRetention('periodic', '-1h'), /negative retention "-1h"/);
  assert.throws(() => parseCompactionRetention('periodic', '9ns'), /under 10ns is not supported "9ns"/);
  assert.equal(parseCompactionRetention('periodic', '10ns'), 1e-5, 'etcd compacts at every chance');
  assert.equal(parseCompactionRetention('revision', '9ns'), 9);
  assert.throws(() => checkCompactionMode('foo'), { message: 'unknown auto-compaction-mode "foo"' });
  checkCompactionMode('revision');
});

test('durations are logged as Go prints them', () => {
  assert.equal(goDuration(2000), '2s');
  assert.equal(goDuration(HOUR), '1h0m0s');
  assert.equal(goDuration(10 * MIN), '10m0s');
  assert.equal(goDuration(2009.422039), '2.009422039s');
  assert.equal(goDuration(1.5), '1.5ms');
  assert.equal(goDuration(0.05), '50µs');
  assert.equal(goDuration(0), '0s');
  assert.equal(goDuration(-HOUR), '-1h0m0s');
  // etcd 3.4's startup line: "auto-compaction-retention":"10ns" for 10 revisions, "1h0m0s" for periodic 1.
  assert.equal(retentionText('revision', parseCompactionRetention('revision', '10')), '10ns');
  assert.equal(retentionText('periodic', parseCompactionRetention('periodic', '1')), '1h0m0s');
});
