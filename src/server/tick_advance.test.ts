import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../pkg/logger.ts';
import { TICK_ADVANCE_POLL_MS, TICK_ADVANCE_WAIT_MS, advanceInitialTicks } from './tick_advance.ts';

/** A member whose peers connect after `connectAfterMs` (never when undefined); time is simulated. */
function member(opts: { enabled?: boolean; members?: number; peers?: number; connectAfterMs?: number }) {
  let t = 0;
  const advanced: number[] = [];
  const deps = {
    enabled: opts.enabled ?? true,
    electionTicks: 10,
    members: () => opts.members ?? 3,
    activePeers: () =>
      opts.connectAfterMs !== undefined && t >= opts.connectAfterMs ? (opts.peers ?? 2) : 0,
    advance: (n: number) => advanced.push(n),
    wait: (ms: number) => {
      t += ms;
      return Promise.resolve(true);
    },
    log: createLogger('silent'),
  };
  return { deps, advanced, elapsed: () => t };
}

test('once two peers are connected, election ticks - 2 ticks are fed at once', async () => {
  const m = member({ connectAfterMs: 300 });
  assert.equal(await advanceInitialTicks(m.deps), 8);
  assert.deepEqual(m.advanced, [8]);
  assert.equal(m.elapsed(), 300, 'as soon as the connections are up');
});

test('--initial-election-tick-advance=false keeps the whole election timeout', async () => {
  const m = member({ enabled: false, connectAfterMs: 0 });
  assert.equal(await advanceInitialTicks(m.deps), 0);
  assert.deepEqual(m.advanced, []);
  assert.equal(m.elapsed(), 0, 'nothing waited for');
});

test('no advance without connected peers within 5 s, nor with one peer (etcd 3.4 wants more than one)', async () => {
  const none = member({});
  assert.equal(await advanceInitialTicks(none.deps), 0);
  assert.equal(none.elapsed(), TICK_ADVANCE_WAIT_MS);
  const late = member({ connectAfterMs: TICK_ADVANCE_WAIT_MS + TICK_ADVANCE_POLL_MS });
  assert.equal(await advanceInitialTicks(late.deps), 0);
  const onePeer = member({ members: 2, peers: 1, connectAfterMs: 0 });
  assert.equal(await advanceInitialTicks(onePeer.deps), 0);
  assert.deepEqual([...none.advanced, ...late.advanced, ...onePeer.advanced], []);
});

test('a lone member is not advanced (it campaigns at once), and a stopping member stops waiting', async () => {
  const alone = member({ members: 1, connectAfterMs: 0 });
  assert.equal(await advanceInitialTicks(alone.deps), 0);
  assert.equal(alone.elapsed(), 0);
  const stopping = member({ connectAfterMs: 0 });
  stopping.deps.wait = () => Promise.resolve(false);
  assert.equal(await advanceInitialTicks(stopping.deps), 0);
  assert.deepEqual(stopping.advanced, []);
});
