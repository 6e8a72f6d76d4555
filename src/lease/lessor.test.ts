import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lessor } from './lessor.ts';

function setup() {
  let now = 1_000_000;
  const saved = new Map<bigint, { ttl: number; remainingTtl: number }>();
  const lessor = new Lessor({
    now: () => now,
    minTtl: 2,
    store: {
      save: (l) => saved.set(l.id, { ttl: l.ttl, remainingTtl: l.remainingTtl }),
      remove: (id) => saved.delete(id),
    },
  });
  return { lessor, saved, advance: (ms: number) => (now += ms) };
}

test('grant raises a TTL below the minimum and persists the lease', () => {
  const { lessor, saved } = setup();
  lessor.promote();
  assert.equal(lessor.grant(1n, 1).ttl, 2);
  assert.equal(lessor.grant(2n, 10).ttl, 10);
  assert.deepEqual(saved.get(1n), { ttl: 2, remainingTtl: 0 });
});

test('a lease expires on the leader exactly when its TTL runs out since the last renewal', () => {
  const { lessor, advance } = setup();
  lessor.promote();
  lessor.grant(7n, 5);
  advance(4000);
  assert.deepEqual(lessor.expired(), []);
  assert.equal(lessor.renew(7n), 5);
  advance(4999);
  assert.deepEqual(lessor.expired(), []);
  assert.equal(lessor.remaining(7n), 1);
  advance(1);
  assert.deepEqual(lessor.expired(), [7n]);
});

test('followers never expire leases', () => {
  const { lessor, advance } = setup();
  lessor.grant(7n, 5);
  advance(60_000);
  assert.deepEqual(lessor.expired(), []);
  assert.equal(lessor.remaining(7n), 5);
});

test('a checkpoint carries the remaining TTL over a leader change (no reset, no early expiry)', () => {
  const a = setup();
  a.lessor.promote();
  a.lessor.grant(9n, 10);
  a.advance(6000);
  const cps = a.lessor.checkpoints();
  assert.deepEqual(cps, [{ id: 9n, remainingTtl: 4 }]);
  // Another member applies the same log and then becomes leader.
  const b = setup();
  b.lessor.grant(9n, 10);
  b.lessor.checkpoint(9n, 4);
  b.lessor.promote();
  b.advance(3999);
  assert.deepEqual(b.lessor.expired(), []);
  b.advance(1);
  assert.deepEqual(b.lessor.expired(), [9n]);
});

test('revoke returns the attached keys sorted and forgets the lease', () => {
  const { lessor, saved } = setup();
  lessor.grant(3n, 5);
  lessor.attach(3n, 'b');
  lessor.attach(3n, 'a');
  lessor.attach(3n, 'c');
  lessor.detach(3n, 'c');
  assert.deepEqual(lessor.revoke(3n), ['a', 'b']);
  assert.equal(lessor.lookup(3n), undefined);
  assert.equal(saved.has(3n), false);
  assert.equal(lessor.revoke(3n), undefined);
  assert.equal(lessor.remaining(3n), -1);
});

test('a renewal leaves a checkpointed remainder to be cleared through the log; a checkpoint of 0 runs the full TTL', () => {
  const { lessor, advance } = setup();
  lessor.grant(3n, 10);
  lessor.checkpoint(3n, 4); // applied from the log on every member
  lessor.promote();
  assert.equal(lessor.remaining(3n), 4);
  advance(1000);
  assert.equal(lessor.renew(3n), 10);
  // The remainder is still recorded (as on every follower) until the log clears it.
  assert.equal(lessor.hasCheckpoint(3n), true);
  assert.equal(lessor.remaining(3n), 10);
  lessor.checkpoint(3n, 0);
  assert.equal(lessor.hasCheckpoint(3n), false);
  assert.equal(lessor.remaining(3n), 10);
  advance(9999);
  assert.deepEqual(lessor.expired(), []);
  advance(1);
  assert.deepEqual(lessor.expired(), [3n]);
  // A new leader after the clearing checkpoint runs the full TTL, not the old remainder.
  lessor.demote();
  lessor.promote();
  assert.equal(lessor.remaining(3n), 10);
});
