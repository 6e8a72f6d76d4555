import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lessor } from './lessor.ts';
import { EXPIRY_CHECK_MS, LeaseLoop, MIN_CHECK_MS, PROMOTE_POLL_MS } from './lease_loop.ts';
import { createLogger } from '../pkg/logger.ts';

function member(saved = new Map<bigint, { ttl: number; remainingTtl: number }>()) {
  let now = 5_000_000;
  const lessor = new Lessor({
    now: () => now,
    minTtl: 2,
    store: {
      save: (l) => saved.set(l.id, { ttl: l.ttl, remainingTtl: l.remainingTtl }),
      remove: (id) => saved.delete(id),
    },
  });
  const proposed: { id: bigint; remainingTtl: number }[][] = [];
  const loop = new LeaseLoop({
    lessor,
    revoke: () => Promise.resolve(),
    // As if committed and applied at once, like a single member's log.
    checkpoint: (cps) => {
      proposed.push(cps);
      for (const c of cps) lessor.checkpoint(c.id, c.remainingTtl);
      return Promise.resolve();
    },
    log: createLogger('error'),
  });
  return { lessor, loop, saved, proposed, advance: (ms: number) => (now += ms) };
}

test('closing the loop checkpoints every lease that ran, so a restart keeps the remaining TTL', () => {
  const a = member();
  a.lessor.promote();
  a.loop.start();
  for (let i = 1n; i <= 1500n; i++) a.lessor.grant(i, 10);
  a.lessor.grant(9999n, 60);
  a.advance(3_500);
  a.lessor.renew(9999n);
  a.loop.close();
  // One proposal for all 1,500 moved leases (no 1,000 limit at shutdown); the just-renewed one is whole.
  assert.equal(a.proposed.length, 1);
  assert.equal(a.proposed[0]!.length, 1500);
  assert.deepEqual(a.saved.get(1n), { ttl: 10, remainingTtl: 7 });
  assert.deepEqual(a.saved.get(9999n), { ttl: 60, remainingTtl: 0 });

  // The member restarts from what was saved; downtime does not count against the lease.
  const b = member();
  b.advance(3_600_000);
  for (const [id, l] of a.saved) b.lessor.restore(id, l.ttl, l.remainingTtl);
  b.lessor.promote();
  assert.equal(b.lessor.remaining(1n), 7);
  assert.equal(b.lessor.remaining(9999n), 60);
  b.advance(6_999);
  assert.deepEqual(b.lessor.expired(), []);
  b.advance(1);
  assert.equal(b.lessor.expired().length, 1000);
});

test('closing a loop that never started (or twice) proposes nothing', () => {
  const m = member();
  m.lessor.promote();
  m.lessor.grant(1n, 10);
  m.advance(4_000);
  m.loop.close();
  m.loop.start();
  m.loop.close();
  m.loop.close();
  assert.equal(m.proposed.length, 1);
});

test('the next expiry check comes when the next deadline is due, within the polling bounds', () => {
  const m = member();
  // Not the leader: it polls for its promotion.
  assert.equal(m.loop.nextCheckMs(), PROMOTE_POLL_MS);
  m.lessor.promote();
  assert.equal(m.loop.nextCheckMs(), EXPIRY_CHECK_MS, 'no lease');
  m.lessor.grant(1n, 5);
  m.advance(4_800);
  assert.equal(m.loop.nextCheckMs(), 200);
  m.advance(199.5);
  assert.equal(
    m.loop.nextCheckMs(),
    MIN_CHECK_MS,
    'half a millisecond left: checked no sooner than the minimum',
  );
  const revoked: bigint[] = [];
  const n = member();
  n.lessor.promote();
  n.lessor.grant(1n, 5);
  n.advance(300);
  n.lessor.grant(2n, 5);
  n.advance(4_700);
  // A revocation on its way is not due again: the next check waits for the other lease.
  const loop = new LeaseLoop({
    lessor: n.lessor,
    revoke: (id) => {
      revoked.push(id);
      return new Promise(() => {});
    },
    checkpoint: () => Promise.resolve(),
    log: createLogger('error'),
  });
  loop.revokeExpired();
  loop.revokeExpired();
  assert.deepEqual(revoked, [1n]);
  assert.equal(loop.nextCheckMs(), 300);
});
