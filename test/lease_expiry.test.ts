// Lease expiry timing against a real bin/tetcd process: a key on a 5 s lease disappears between 5 and
// 6 s after the last keep-alive; and a lease keeps its remaining TTL across a restart of the member
// (checkpointed at shutdown: no reset to the granted TTL, no early expiry).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './helpers/client.ts';
import { toBigInt, toNumber } from '../src/proto/index.ts';
import { startServer, type ServerHandle } from './helpers/procs.ts';
import { deletionOf, keepAliveStream } from './helpers/lease_stream.ts';

type Any = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(3);

async function ttlOf(c: Client, id: Any): Promise<{ ttl: number; granted: number }> {
  const r = await c.call('etcdserverpb.Lease', 'LeaseTimeToLive', { ID: id });
  return { ttl: toNumber(r['TTL']), granted: toNumber(r['grantedTTL']) };
}

describe('lease expiry (bin/tetcd)', { timeout: 60_000 }, () => {
  const handles: ServerHandle[] = [];
  after(async () => {
    for (const h of handles) await h.destroy();
  });

  test('a key on a 5 s lease disappears 5 to 6 s after the last keep-alive', async () => {
    const h = await startServer('tetcd');
    handles.push(h);
    const c = new Client(h.endpoint);
    const ka = keepAliveStream(h.endpoint);
    try {
      const g = await c.call('etcdserverpb.Lease', 'LeaseGrant', { TTL: 5 });
      const id = g['ID'];
      await c.put('exp/k', 'v', { lease: id });
      const del = await deletionOf(h.endpoint, 'exp/k', 20_000);
      let sent = 0;
      let answered = 0;
      for (let i = 0; i < 3; i++) {
        await sleep(1000);
        sent = performance.now();
        assert.equal(await ka.once(id), 5);
        answered = performance.now();
      }
      assert.equal(toNumber((await c.range('exp/k'))['count']), 1, 'kept alive for 3 s past its TTL start');
      const gone = await del.at;
      del.close();
      // The renewal happened between `sent` and `answered`.
      const early = gone - sent;
      const late = gone - answered;
      assert.ok(early >= 5000, `deleted ${secs(early)} s after the last keep-alive was sent`);
      assert.ok(late < 6000, `deleted ${secs(late)} s after the last keep-alive was answered`);
      assert.equal(toNumber((await c.range('exp/k'))['count']), 0);
      assert.equal((await ttlOf(c, id)).ttl, -1);
    } finally {
      ka.close();
      c.close();
    }
  });

  test('a restart keeps each lease’s remaining TTL: no reset to the granted TTL, no early expiry', async () => {
    let h = await startServer('tetcd');
    handles.push(h);
    let c = new Client(h.endpoint);
    const a = await c.call('etcdserverpb.Lease', 'LeaseGrant', { TTL: 10 });
    const b = await c.call('etcdserverpb.Lease', 'LeaseGrant', { TTL: 30 });
    await c.put('rs/a', '1', { lease: a['ID'] });
    await c.put('rs/b', '2', { lease: b['ID'] });
    await sleep(3300);
    const asked = performance.now();
    const before = await ttlOf(c, a['ID']);
    assert.ok(before.ttl <= 7 && before.ttl >= 6, `TTL ${before.ttl} before the restart`);
    c.close();
    const stopAt = performance.now();
    await h.stop();
    const spawnAt = performance.now();
    h = await h.restart();
    handles.push(h);
    const upAt = performance.now();
    c = new Client(h.endpoint);
    try {
      const del = await deletionOf(h.endpoint, 'rs/a', 30_000);
      const afterA = await ttlOf(c, a['ID']);
      const afterB = await ttlOf(c, b['ID']);
      assert.equal(afterA.granted, 10);
      assert.ok(Math.abs(afterA.ttl - before.ttl) <= 1, `TTL ${before.ttl} before, ${afterA.ttl} after`);
      assert.ok(
        afterB.ttl <= 27 && afterB.ttl >= 25,
        `30 s lease at ${afterB.ttl} after 3.3 s and a restart`,
      );
      assert.equal(toNumber((await c.range('rs/', { rangeEnd: Buffer.from('rs0') }))['count']), 2);
      const gone = await del.at;
      del.close();
      // True remaining at the stop was more than before.ttl - 1 - (stopAt - asked); downtime is not
      // counted, and the restarted member's clock starts no earlier than the spawn.
      const minLeft = (before.ttl - 1) * 1000 - (stopAt - asked);
      assert.ok(gone - spawnAt >= minLeft, `expired ${secs(gone - spawnAt)} s after the restart began`);
      assert.ok(gone - upAt <= before.ttl * 1000 + 1000, `expired ${secs(gone - upAt)} s after restart`);
      assert.equal(toNumber((await c.range('rs/b'))['count']), 1, 'the 30 s lease is still there');
      assert.equal(toBigInt((await c.range('rs/b'))['kvs'][0].lease), toBigInt(b['ID']));
    } finally {
      c.close();
    }
  });
});
