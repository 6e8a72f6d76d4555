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

test('followers never expire leases, but keep each deadline from the log', () => {
  const { lessor, advance } = setup();
  lessor.grant(7n, 5);
  advance(2500);
  assert.equal(lessor.remaining(7n), 3);
  advance(60_000);
  assert.deepEqual(lessor.expired(), []);
  assert.equal(lessor.remaining(7n), 0);
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
  b.advance(6000);
  b.lessor.checkpoint(9n, 4);
  b.advance(3000);
  b.lessor.promote();
  b.advance(999);
  assert.deepEqual(b.lessor.expired(), []);
  b.advance(1);
  assert.deepEqual(b.lessor.expired(), [9n]);
});

test("a follower's deadline runs from when it applies a renewal; as new leader it expires exactly there", () => {
  const leader = setup();
  const follower = setup();
  leader.lessor.promote();
  leader.lessor.grant(5n, 5);
  follower.lessor.grant(5n, 5);
  leader.advance(3000);
  follower.advance(3000);
  // The keep-alive reaches the leader (the client sent it no later than this)...
  const sent = 3000;
  assert.equal(leader.lessor.renew(5n), 5);
  // ...and its checkpoint of 0 applies on the follower 40 ms later; then the leader dies.
  follower.advance(40);
  follower.lessor.checkpoint(5n, 0);
  const applied = sent + 40;
  follower.advance(1500); // the election
  follower.lessor.promote();
  // No election timeout added and no restart of the TTL: the deadline is the one the follower applied.
  assert.equal(follower.lessor.untilNextExpiry(new Set()), applied + 5000 - (sent + 40 + 1500));
  follower.advance(5000 - 1500 - 1);
  assert.deepEqual(follower.lessor.expired(), [], 'never before TTL since the keep-alive was sent');
  follower.advance(1);
  assert.deepEqual(follower.lessor.expired(), [5n]);
});

test('a deadline that passed before the promotion is due at once; TTL checkpoints do not move the leader', () => {
  const { lessor, advance } = setup();
  lessor.grant(1n, 5);
  lessor.grant(2n, 10);
  advance(7000);
  lessor.promote();
  assert.deepEqual(lessor.expired(), [1n]);
  assert.equal(lessor.untilNextExpiry(new Set([1n])), 3000);
  // The leader applies its own TTL checkpoint (rounded up to whole seconds) later: its deadline stays.
  advance(500);
  lessor.checkpoint(2n, 3);
  assert.equal(lessor.untilNextExpiry(new Set([1n])), 2500);
  // A renewal applied on the leader never shortens what it granted when the keep-alive came.
  assert.equal(lessor.renew(2n), 10);
  advance(100);
  lessor.checkpoint(2n, 0);
  assert.equal(lessor.untilNextExpiry(new Set([1n])), 10_000);
  // A member that does not lead has nothing due.
  lessor.demote();
  assert.equal(lessor.untilNextExpiry(new Set()), Infinity);
  assert.deepEqual(lessor.expired(), []);
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
});

test('restore runs the recorded remainder from now (downtime is not counted)', () => {
  const { lessor, advance } = setup();
  lessor.restore(4n, 10, 6);
  lessor.restore(5n, 10, 0);
  lessor.promote();
  assert.equal(lessor.remaining(4n), 6);
  assert.equal(lessor.remaining(5n), 10);
  advance(5999);
  assert.deepEqual(lessor.expired(), []);
  advance(1);
  assert.deepEqual(lessor.expired(), [4n]);
});

test("timeToLive truncates to whole seconds as etcd's TimeToLive does (100 s just granted: 99)", () => {
  const { lessor, advance } = setup();
  lessor.promote();
  lessor.grant(4n, 100);
  assert.equal(lessor.timeToLive(4n), 100);
  advance(1);
  assert.equal(lessor.timeToLive(4n), 99);
  assert.equal(lessor.remaining(4n), 100);
  advance(99_998);
  assert.equal(lessor.timeToLive(4n), 0);
  advance(1_502);
  // Past its deadline and not yet revoked: Go's int64(-1.501) is -1.
  assert.equal(lessor.timeToLive(4n), -1);
  assert.equal(lessor.timeToLive(5n), -1);
});
