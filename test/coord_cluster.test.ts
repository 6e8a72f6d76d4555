// Issue 5 on a 3-member cluster of bin/tetcd processes: watch and keep-alive work through any member,
// a lease expires once (one DELETE) for the whole cluster, a lock excludes clients on different
// members, and a 5 s lease expires 5 to 6 s after its last keep-alive also when the leader is killed
// right after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type Member } from './helpers/cluster.ts';
import { Client } from './helpers/client.ts';
import { toNumber } from '../src/proto/index.ts';
import { WatchStreamClient, watchChannel, type StreamWatch } from './helpers/watch_stream.ts';
import { deletionOf, keepAliveStream } from './helpers/lease_stream.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => (ms / 1000).toFixed(3);

async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

describe('issue 5 coordination on a 3-member bin/tetcd cluster', { timeout: 60_000 }, () => {
  let c: TestCluster;
  let leader: Member;
  let followers: Member[];
  const clients = new Map<string, Client>();
  const cl = (m: Member): Client => {
    let x = clients.get(m.name);
    if (!x) clients.set(m.name, (x = new Client(m.endpoint)));
    return x;
  };

  before(async () => {
    c = await TestCluster.start(3);
    leader = await c.waitLeader(15_000);
    followers = c.members.filter((m) => m !== leader);
  });
  after(async () => {
    for (const x of clients.values()) x.close();
    await c?.close();
  });

  test('a watcher on each follower sees every write through every member, in order, exactly once', async () => {
    const chans = followers.map((f) => watchChannel(f.endpoint));
    const streams = chans.map((ch) => new WatchStreamClient(ch));
    try {
      const watches: StreamWatch[] = [];
      for (const s of streams) watches.push(await s.create({ key: 'ww/', end: 'ww0' }));
      // Three concurrent writers, one per member (leader and both followers).
      const acked: { rev: number; key: string; value: string }[] = [];
      await Promise.all(
        c.members.map(async (m, w) => {
          for (let i = 0; i < 10; i++) {
            const key = `ww/${m.name}/${i}`;
            const r = await cl(m).call(
              'etcdserverpb.KV',
              'Put',
              { key: Buffer.from(key), value: Buffer.from(`v${w}.${i}`) },
              3000,
            );
            acked.push({ rev: toNumber(r['header'].revision), key, value: `v${w}.${i}` });
          }
        }),
      );
      acked.sort((a, b) => a.rev - b.rev);
      assert.equal(new Set(acked.map((a) => a.rev)).size, 30, 'each put has its own revision');
      for (const w of watches) await until(() => w.events.length >= 30, 5000, 'watch events');
      // Give duplicates a chance to show up.
      await sleep(300);
      for (const [i, w] of watches.entries()) {
        const seen = w.events.map((e) => ({ rev: e.rev, key: e.key, value: e.value }));
        assert.deepEqual(seen, acked, `watcher on ${followers[i]!.name}`);
        assert.ok(
          w.events.every((e) => e.type === 'PUT'),
          'only puts',
        );
      }
    } finally {
      for (const s of streams) s.close();
      for (const ch of chans) ch.close();
    }
  });

  test('LeaseKeepAlive to a follower renews the lease; it expires once, with one DELETE on every member', async () => {
    const [f1, f2] = followers as [Member, Member];
    const g = await cl(f1).call('etcdserverpb.Lease', 'LeaseGrant', { TTL: 3 }, 3000);
    const id = g['ID'];
    const granted = performance.now();
    await cl(f1).put('ka/k', 'v', { lease: id });
    const dels = await Promise.all(c.members.map((m) => deletionOf(m.endpoint, 'ka/k', 12_000)));
    const ka = keepAliveStream(f1.endpoint);
    try {
      for (let i = 0; i < 5; i++) {
        await sleep(900);
        const ttl = await ka.once(id);
        assert.ok(ttl > 0, `keep-alive ${i} through ${f1.name} answered TTL ${ttl}`);
      }
      // 4.5 s after a 3 s grant: alive only because the follower's keep-alives renewed it.
      assert.ok(performance.now() - granted > 4000);
      const r = await cl(f2).range('ka/k');
      assert.equal(toNumber(r['count']), 1, 'the key outlived its original TTL');
      const revBefore = toNumber(r['header'].revision);
      const t = await cl(leader).call('etcdserverpb.Lease', 'LeaseTimeToLive', { ID: id }, 3000);
      assert.ok(toNumber(t['TTL']) > 0, `leader says TTL ${toNumber(t['TTL'])}`);
      ka.close();
      const times = await Promise.all(dels.map((d) => d.at));
      await sleep(1500); // a second revocation, if any, would come within the 500 ms expiry loop
      for (const [i, d] of dels.entries()) {
        assert.equal(d.watch.events.length, 1, `${c.members[i]!.name} saw ${d.watch.events.length} DELETEs`);
        assert.equal(d.watch.events[0]!.rev, revBefore + 1);
      }
      const rAfter = await cl(leader).range('ka/k');
      assert.equal(toNumber(rAfter['count']), 0);
      assert.equal(toNumber(rAfter['header'].revision), revBefore + 1, 'one revocation, one revision');
      console.log(
        `follower keep-alive lease: the members' DELETEs arrived within ${secs(Math.max(...times) - Math.min(...times))} s`,
      );
    } finally {
      ka.close();
      for (const d of dels) d.close();
    }
  });

  test('a lock taken through different members guards a counter exactly', async () => {
    const ROUNDS = 12;
    let holder: string | undefined;
    let overlaps = 0;
    await cl(leader).put('ctr', '0');
    const worker = async (m: Member, name: string) => {
      const x = cl(m);
      const g = await x.call('etcdserverpb.Lease', 'LeaseGrant', { TTL: 10 }, 3000);
      for (let i = 0; i < ROUNDS; i++) {
        const lk = await x.call(
          'v3lockpb.Lock',
          'Lock',
          { name: Buffer.from('ctr-lock'), lease: g['ID'] },
          8000,
        );
        if (holder !== undefined) overlaps++;
        holder = name;
        const r = await x.range('ctr');
        const n = Number((r['kvs'] as { value: Buffer }[])[0]!.value.toString());
        await sleep(5);
        await x.put('ctr', String(n + 1));
        holder = undefined;
        await x.call('v3lockpb.Lock', 'Unlock', { key: lk['key'] }, 3000);
      }
      await x.call('etcdserverpb.Lease', 'LeaseRevoke', { ID: g['ID'] }, 3000);
    };
    const [f1, f2] = followers as [Member, Member];
    await Promise.all([worker(f1, 'a'), worker(f2, 'b'), worker(leader, 'c')]);
    assert.equal(overlaps, 0, 'two clients held the lock at once');
    const r = await cl(f1).range('ctr');
    assert.equal((r['kvs'] as { value: Buffer }[])[0]!.value.toString(), String(3 * ROUNDS));
  });

  test('leader kill -9 right after the last keep-alive: a 5 s lease expires 5 to 6 s after it, never before 5 s; a renewal after a TTL checkpoint is not lost, and an unrenewed lease keeps its checkpointed remainder', async () => {
    const [f1, f2] = followers as [Member, Member];
    const grant = async (ttl: number) =>
      (await cl(f1).call('etcdserverpb.Lease', 'LeaseGrant', { TTL: ttl }, 3000))['ID'];
    const a = await grant(5);
    const b = await grant(10);
    // Never renewed: after the failover it must run on from its checkpointed remainder, not restart.
    const cLease = await grant(10);
    const bGranted = performance.now();
    await cl(f1).put('kill/a', 'v', { lease: a });
    await cl(f1).put('kill/b', 'v', { lease: b });
    const delA = await deletionOf(f2.endpoint, 'kill/a', 28_000);
    const delB = await deletionOf(f2.endpoint, 'kill/b', 28_000);
    const ka = keepAliveStream(f1.endpoint);
    const applied = async () => toNumber((await cl(f2).status())['raftAppliedIndex']);
    try {
      // Keep A alive while waiting for the leader's periodic TTL checkpoint (a log entry: the applied
      // index moves with no write of ours) taken at least 3 s into B's life, so it records B <= 7 s.
      let idx3 = 0;
      let checkpointed = false;
      while (performance.now() - bGranted < 9000) {
        await sleep(700);
        assert.equal(await ka.once(a), 5);
        if (performance.now() - bGranted < 3000) continue;
        if (idx3 === 0) idx3 = await applied();
        else if ((await applied()) > idx3) {
          checkpointed = true;
          break;
        }
      }
      assert.ok(checkpointed, 'no lease checkpoint entry within 9 s of the grant');
      const sentB = performance.now();
      assert.equal(await ka.once(b), 10);
      const answeredB = performance.now();
      const sent = performance.now();
      assert.equal(await ka.once(a), 5);
      const answered = performance.now();
      ka.close();
      await c.kill9(leader);
      const killed = performance.now();
      const newLeader = await c.waitLeader(10_000, [f1, f2]);
      const elected = performance.now();
      const ttlOnNew = async (id: unknown) =>
        toNumber((await cl(f2).call('etcdserverpb.Lease', 'LeaseTimeToLive', { ID: id }, 3000))['TTL']);
      const [ttlA, ttlB, ttlC] = [await ttlOnNew(a), await ttlOnNew(b), await ttlOnNew(cLease)];
      const gone = await delA.at;
      const goneB = await delB.at;
      const count = toNumber((await cl(f2).range('kill/', { rangeEnd: Buffer.from('kill0') }))['count']);
      console.log(
        `leader kill: killed ${secs(killed - answered)} s after the last keep-alive answer, ` +
          `${newLeader.name} leader ${secs(elected - killed)} s after the kill; 5 s lease DELETE ` +
          `${secs(gone - sent)} s after its keep-alive was sent, ${secs(gone - answered)} s after its answer; ` +
          `10 s lease (renewed after a checkpoint) DELETE ${secs(goneB - sentB)} s after its keep-alive was ` +
          `sent, ${secs(goneB - answeredB)} s after its answer; TTLs on the new leader right after the ` +
          `failover: ${ttlA} s, ${ttlB} s, unrenewed 10 s lease ${ttlC} s`,
      );
      assert.equal(count, 0);
      // Renewals are in the log before they are answered, and every member's deadline runs from when it
      // applied them: the new leader expires the lease where the old one would have, with no extra time.
      // Never before 5 s since the keep-alive was sent (the guarantee; the answer's own way to the client
      // is not something a member can wait for), at most 6 s after its answer.
      assert.ok(gone - sent >= 5000, `5 s lease deleted ${secs(gone - sent)} s after the last keep-alive`);
      assert.ok(
        gone - answered <= 6000,
        `5 s lease deleted ${secs(gone - answered)} s after the last keep-alive answer`,
      );
      assert.ok(goneB - sentB >= 10_000, `10 s lease deleted ${secs(goneB - sentB)} s after its keep-alive`);
      assert.ok(
        goneB - answeredB <= 11_000,
        `10 s lease deleted ${secs(goneB - answeredB)} s after its keep-alive answer`,
      );
      // Checkpointed at >= 3 s with <= 7 s left (rounded up), and running down since.
      assert.ok(
        ttlC <= 7,
        `unrenewed 10 s lease has TTL ${ttlC} after the failover: its checkpoint was lost`,
      );
    } finally {
      ka.close();
      delA.close();
      delB.close();
    }
  });
});
