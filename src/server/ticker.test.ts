import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CATCH_UP_TICKS, Ticker } from './ticker.ts';

const HB = 100;

function ticker() {
  const clock = { t: 0 };
  return { clock, tk: new Ticker(HB, () => clock.t) };
}

function fireAt(x: ReturnType<typeof ticker>, t: number) {
  x.clock.t = t;
  return x.tk.fire();
}

test('ticks follow the clock: firings that drift late bring the ticks they are late for', () => {
  const x = ticker();
  // A busy loop runs each firing 10-15 ms after the last one's interval ended (setInterval drifts).
  let t = 0;
  let ticks = 0;
  for (let i = 0; i < 40; i++) {
    t += HB + 10 + (i % 2) * 5;
    const f = fireAt(x, t);
    assert.ok(f.now >= 1 && f.now <= 2 && f.catchUp === 0, `firing ${i}: ${JSON.stringify(f)}`);
    ticks += f.now;
  }
  assert.equal(ticks, Math.floor(t / HB), 'as many ticks as heartbeat intervals passed');
  // A firing a little early for the schedule (clock granularity) brings none; the next brings two.
  const slotEnd = (Math.floor(t / HB) + 1) * HB;
  assert.deepEqual(fireAt(x, slotEnd - 1), { catchUp: 0, now: 0 });
  assert.deepEqual(fireAt(x, slotEnd + HB), { catchUp: 0, now: 2 });
});

test('ticks missed while the process stood still (no work of its own) are dropped', () => {
  const x = ticker();
  fireAt(x, 100);
  // SIGSTOP for 2 s: the timer fires once when the process runs again; like Go's ticker, which
  // holds one tick, that firing brings at most two.
  assert.deepEqual(fireAt(x, 2150), { catchUp: 0, now: 2 });
  assert.deepEqual(fireAt(x, 2250), { catchUp: 0, now: 1 });
});

test('ticks missed while the loop was blocked in its own work (a snapshot apply) are credited', () => {
  const x = ticker();
  fireAt(x, 100);
  x.clock.t = 110;
  x.tk.beginWork();
  x.clock.t = 1610; // 1.5 s of work
  x.tk.endWork();
  // 15 ticks are due since the last firing: two by the schedule, 13 more for the work.
  assert.deepEqual(fireAt(x, 1650), { catchUp: 13, now: 2 });
  assert.deepEqual(fireAt(x, 1750), { catchUp: 0, now: 1 }, 'the credit is used once');
});

test('only the part of a gap spent in own work is credited, never more than the clock owes', () => {
  const x = ticker();
  fireAt(x, 100);
  x.tk.beginWork();
  x.clock.t = 600; // 500 ms of work, then the process stands still for 2 s
  x.tk.endWork();
  assert.deepEqual(fireAt(x, 2600), { catchUp: 5, now: 2 });
  // Work that did not keep the timer from firing (async work, the loop free) earns nothing.
  x.tk.beginWork();
  assert.deepEqual(fireAt(x, 2700), { catchUp: 0, now: 1 });
  assert.deepEqual(fireAt(x, 2800), { catchUp: 0, now: 1 });
  x.tk.endWork();
});

test('work still under way at a firing counts up to that firing only', () => {
  const x = ticker();
  fireAt(x, 100);
  x.tk.beginWork();
  // The loop is still blocked when the timer gets to run, 1 s in.
  assert.deepEqual(fireAt(x, 1100), { catchUp: 8, now: 2 });
  x.clock.t = 1150;
  x.tk.endWork();
  // Then the process stands still for 2 s: only the 50 ms of work after the firing counts.
  assert.deepEqual(fireAt(x, 3150), { catchUp: 0, now: 2 });
});

test('nested work is measured once; the credit is capped', () => {
  const x = ticker();
  x.tk.beginWork();
  x.tk.beginWork();
  x.clock.t = 300;
  x.tk.endWork();
  x.clock.t = 500;
  x.tk.endWork();
  x.tk.endWork(); // unbalanced: ignored
  assert.deepEqual(fireAt(x, 500), { catchUp: 3, now: 2 });
  x.tk.beginWork();
  x.clock.t = 500 + 60_000;
  x.tk.endWork();
  assert.deepEqual(x.tk.fire(), { catchUp: MAX_CATCH_UP_TICKS, now: 2 });
});
