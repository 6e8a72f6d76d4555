import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lessor } from './lessor.ts';
import { LeaseRenewals } from './lease_renew.ts';

/** A leader whose LeaseCheckpoint proposals wait until the test applies (or fails) them. */
function leader(soleVoter: boolean) {
  let now = 1_000;
  const lessor = new Lessor({ now: () => now, minTtl: 2, store: { save: () => {}, remove: () => {} } });
  lessor.promote();
  const proposals: { cps: { id: bigint; remainingTtl: number }[]; done: (err?: Error) => void }[] = [];
  const deferred: (() => void)[] = [];
  const renewals = new LeaseRenewals({
    lessor,
    soleVoter: () => soleVoter,
    checkpoint: (cps) =>
      new Promise((resolve, reject) =>
        proposals.push({
          cps,
          done: (err) => {
            if (err) return reject(err);
            for (const c of cps) lessor.checkpoint(c.id, c.remainingTtl);
            resolve(undefined);
          },
        }),
      ),
    defer: (fn) => deferred.push(fn),
  });
  const turn = () => {
    for (const fn of deferred.splice(0)) fn();
  };
  // Lets promise callbacks run (no timers involved).
  const settle = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { lessor, renewals, proposals, turn, settle, advance: (ms: number) => (now += ms) };
}

test('with other voters a keep-alive is answered only after its renewal entry applied; one entry per batch', async () => {
  const m = leader(false);
  m.lessor.grant(1n, 5);
  m.lessor.grant(2n, 7);
  const answers: (number | undefined)[] = [];
  const a = m.renewals.renew(1n);
  const b = m.renewals.renew(2n);
  const c = m.renewals.renew(1n);
  assert.ok(a instanceof Promise && b instanceof Promise && c instanceof Promise, 'not answered at once');
  for (const p of [a, b, c]) void p.then((t) => answers.push(t));
  assert.equal(m.proposals.length, 0, 'proposed after the event-loop turn');
  m.turn();
  assert.equal(m.proposals.length, 1);
  assert.deepEqual(m.proposals[0]!.cps, [
    { id: 1n, remainingTtl: 0 },
    { id: 2n, remainingTtl: 0 },
  ]);
  // Keep-alives while the entry is on its way wait for the next one, proposed when it applies.
  const d = m.renewals.renew(2n);
  void (d as Promise<number | undefined>).then((t) => answers.push(t));
  m.turn();
  assert.equal(m.proposals.length, 1, 'one entry in flight at a time');
  await m.settle();
  assert.deepEqual(answers, []);
  m.proposals[0]!.done();
  await m.settle();
  assert.deepEqual(answers, [5, 7, 5]);
  assert.equal(m.proposals.length, 2);
  assert.deepEqual(m.proposals[1]!.cps, [{ id: 2n, remainingTtl: 0 }]);
  // The lease is revoked before the renewal applies: answered as unknown.
  m.lessor.revoke(2n);
  m.proposals[1]!.done();
  await m.settle();
  assert.deepEqual(answers, [5, 7, 5, undefined]);
  assert.equal(m.renewals.renew(9n), undefined, 'an unknown lease is answered at once');
});

test('a failed renewal entry fails its keep-alives; the next batch still goes out', async () => {
  const m = leader(false);
  m.lessor.grant(1n, 5);
  const a = m.renewals.renew(1n) as Promise<number | undefined>;
  m.turn();
  const b = m.renewals.renew(1n) as Promise<number | undefined>;
  m.proposals[0]!.done(new Error('etcdserver: request timed out'));
  await assert.rejects(a, /timed out/);
  await m.settle();
  assert.equal(m.proposals.length, 2);
  m.proposals[1]!.done();
  assert.equal(await b, 5);
});

test('a lone voter answers at once and writes only to clear a checkpointed remainder', async () => {
  const m = leader(true);
  m.lessor.grant(1n, 10);
  m.advance(2000);
  assert.equal(m.renewals.renew(1n), 10);
  m.turn();
  assert.equal(m.proposals.length, 0);
  m.lessor.checkpoint(1n, 6);
  const p = m.renewals.renew(1n);
  assert.ok(p instanceof Promise);
  assert.deepEqual(m.proposals[0]!.cps, [{ id: 1n, remainingTtl: 0 }]);
  m.proposals[0]!.done();
  assert.equal(await p, 10);
  assert.equal(m.lessor.hasCheckpoint(1n), false);
});
