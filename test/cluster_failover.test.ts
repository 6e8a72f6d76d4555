// kill -9 of the leader again and again under continuous writes from several clients: every
// acknowledged write is on every member, the members agree (hashkv, revision), and a new leader takes
// writes within 3 election timeouts each time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './helpers/cluster.ts';
import { Client } from '../src/client/client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILLS = 6;

describe('repeated leader kill -9 under continuous writes (3 members)', { timeout: 60_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3, {
      extraArgs: ['--snapshot-count', '200', '--snapshot-catchup-entries', '50'],
    });
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  test(`${KILLS} leader kills: nothing acknowledged is lost, members agree, failover < 3 election timeouts`, async () => {
    const acked = new Set<string>();
    let stop = false;
    let seq = 0;
    // Each writer cycles through the members with a short deadline per write, as a failing-over client does.
    const writer = async (w: number) => {
      while (!stop) {
        for (const m of c.members) {
          if (stop) break;
          if (!m.proc) continue;
          const key = `w${w}/${seq++}`;
          const cl = new Client(m.endpoint);
          try {
            await cl.call('etcdserverpb.KV', 'Put', { key: Buffer.from(key), value: Buffer.from('v') }, 1000);
            acked.add(key);
          } catch {
            // unacknowledged: it may or may not be there
          } finally {
            cl.close();
          }
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    const failover: number[] = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        await sleep(800);
        const leader = await c.waitLeader(10_000);
        const killedAt = Date.now();
        await c.kill9(leader);
        const n = acked.size;
        while (acked.size <= n) {
          assert.ok(
            Date.now() - killedAt < 3 * c.electionMs + 1000,
            `no write acknowledged after kill ${k + 1}`,
          );
          await sleep(10);
        }
        failover.push(Date.now() - killedAt);
        await c.restart(leader);
      }
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    failover.sort((a, b) => a - b);
    const p50 = failover[Math.floor(failover.length / 2)]!;
    const p99 = failover[failover.length - 1]!;
    console.log(
      `failover after leader kill -9: p50 ${p50} ms, max ${p99} ms, ${acked.size} writes acknowledged`,
    );
    assert.ok(p99 <= 3 * c.electionMs + 1000, `slowest failover ${p99} ms`);
    await c.waitLeader(10_000);
    // Every member has applied everything (a linearizable read waits for that), then compare locally.
    const views = [];
    for (const m of c.members) {
      const cl = new Client(m.endpoint);
      try {
        await cl.range('w');
        const r = await cl.range('w', { rangeEnd: Buffer.from('x'), serializable: true, keysOnly: true });
        const keys = new Set((r['kvs'] as { key: Buffer }[]).map((kv) => kv.key.toString()));
        const h = await cl.call('etcdserverpb.Maintenance', 'HashKV', { revision: 0 });
        views.push({ name: m.name, keys, rev: Number(r['header'].revision), hash: String(h['hash']) });
      } finally {
        cl.close();
      }
    }
    for (const v of views) {
      const missing = [...acked].filter((k) => !v.keys.has(k));
      assert.deepEqual(missing, [], `${v.name} lost acknowledged writes`);
      // One revision per put: no revision was handed out twice or skipped.
      assert.equal(v.rev, v.keys.size + 1, `${v.name}: revision ${v.rev} for ${v.keys.size} keys`);
    }
    assert.equal(new Set(views.map((v) => v.hash)).size, 1, 'hashkv differs between members');
    assert.equal(new Set(views.map((v) => v.rev)).size, 1, 'revisions differ between members');
  });
});
