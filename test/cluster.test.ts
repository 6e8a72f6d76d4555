// Three real tetcd processes on loopback ports: etcdctl sees the cluster, writes through any member are
// read linearizably through every member, and a kill -9 of the leader loses nothing acknowledged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type Member } from './helpers/cluster.ts';
import { etcdctl, haveEtcd } from './helpers/procs.ts';
import { Client } from './helpers/client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withClient<T>(m: Member, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(m.endpoint);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Retries a write until a member with a leader takes it (a client's failover, bounded). */
async function putSomewhere(ms: Member[], key: string, value: string, untilMs: number): Promise<void> {
  let last: unknown;
  while (Date.now() < untilMs) {
    for (const m of ms) {
      try {
        // A short deadline per try: a proposal forwarded to the dead leader is lost, so try again.
        await withClient(m, (c) =>
          c.call('etcdserverpb.KV', 'Put', { key: Buffer.from(key), value: Buffer.from(value) }, 800),
        );
        return;
      } catch (e) {
        last = e;
      }
    }
    await sleep(50);
  }
  throw new Error(`no member accepted ${key}: ${String(last)}`);
}

describe('a 3-member cluster of bin/tetcd processes', { timeout: 60_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3);
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  test('every member agrees on one leader and reports the raft state in Status', async () => {
    const leader = await c.waitLeader(10_000);
    const sts = await Promise.all(c.members.map((m) => c.status(m)));
    for (const s of sts) {
      assert.ok(s, 'a member did not answer Status');
      assert.equal(String(s['leader']), String((await c.status(leader))!['leader']));
      assert.ok(Number(s['raftTerm']) >= 2, `raft term ${String(s['raftTerm'])}`);
      assert.ok(Number(s['raftAppliedIndex']) >= 3, 'the bootstrap conf changes are applied');
      assert.equal(s['isLearner'], false);
    }
  });

  test('a write through any member is read linearizably through every member', async () => {
    for (const [i, m] of c.members.entries()) {
      await withClient(m, (cl) => cl.put(`lin/${i}`, `v${i}`));
      // Straight after the acknowledgement, every member (followers included) returns it.
      for (const r of c.members) {
        const got = await withClient(r, (cl) => cl.range(`lin/${i}`));
        const kvs = got['kvs'] as { value: Buffer }[];
        assert.equal(kvs.length, 1, `member ${r.name} misses lin/${i} written via ${m.name}`);
        assert.equal(kvs[0]!.value.toString(), `v${i}`);
      }
    }
    const revs = await Promise.all(
      c.members.map((m) =>
        withClient(m, (cl) => cl.range('lin/0')).then((r) => Number(r['header'].revision)),
      ),
    );
    assert.equal(new Set(revs).size, 1, `revisions differ: ${revs.join(',')}`);
  });

  test(
    'etcdctl member list, endpoint status/health/hashkv see all three members',
    { skip: !haveEtcd() },
    async () => {
      await sleep(300); // publishes of names and client URLs are applied by now; wait a beat for followers
      const list = await etcdctl(c.members[0]!.endpoint, ['member', 'list']);
      assert.equal(list.code, 0, list.stderr);
      for (const m of c.members) {
        assert.match(list.stdout, new RegExp(`started, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`));
      }
      const health = await etcdctl(c.members[1]!.endpoint, ['endpoint', 'health', '--cluster']);
      assert.equal(health.code, 0, health.stderr);
      // etcdctl 3.4 prints the health lines on stderr.
      const out = health.stdout + health.stderr;
      assert.equal(out.match(/is healthy/g)?.length, 3, out);
      const all = c.endpoints().join(',');
      const status = await etcdctl(all, ['endpoint', 'status', '-w', 'json']);
      assert.equal(status.code, 0, status.stderr);
      const st = JSON.parse(status.stdout) as { Status: { leader: number; header: { member_id: number } } }[];
      assert.equal(st.length, 3);
      assert.equal(new Set(st.map((s) => String(s.Status.leader))).size, 1);
      const hash = await etcdctl(all, ['endpoint', 'hashkv', '-w', 'json']);
      assert.equal(hash.code, 0, hash.stderr);
      const hs = JSON.parse(hash.stdout) as { HashKV: { hash: number } }[];
      assert.equal(hs.length, 3);
      assert.equal(new Set(hs.map((h) => h.HashKV.hash)).size, 1, `hashkv differs: ${hash.stdout}`);
    },
  );

  test(
    'etcdctl given URLs (--cluster, --endpoints=http://...) gets status, hashkv and health of all members',
    { skip: !haveEtcd() },
    async () => {
      // grpc-go puts such a URL whole in :authority; the listener rewrites it for Node's HTTP/2.
      await sleep(300);
      const urls = c.members.map((m) => m.clientUrl).sort();
      type St = {
        Endpoint: string;
        Status: { header: Record<string, unknown>; leader: unknown } & Record<string, unknown>;
      };
      const byStatus = [
        await etcdctl(c.members[0]!.endpoint, ['endpoint', 'status', '--cluster', '-w', 'json']),
        await etcdctl(c.members.map((m) => m.clientUrl).join(','), ['endpoint', 'status', '-w', 'json']),
      ];
      for (const r of byStatus) {
        assert.equal(r.code, 0, r.stderr);
        const st = JSON.parse(r.stdout) as St[];
        assert.deepEqual(st.map((s) => s.Endpoint).sort(), urls);
        // The fields etcd 3.4 prints for the same command.
        for (const s of st) {
          for (const k of ['version', 'dbSize', 'leader', 'raftIndex', 'raftTerm', 'raftAppliedIndex']) {
            assert.ok(k in s.Status, `${k} missing in ${r.stdout}`);
          }
          for (const k of ['cluster_id', 'member_id', 'revision', 'raft_term'])
            assert.ok(k in s.Status.header);
        }
        const ids = st.map((s) => String(s.Status.header['member_id']));
        assert.equal(new Set(ids).size, 3);
        const leaders = new Set(st.map((s) => String(s.Status.leader)));
        assert.equal(leaders.size, 1);
        assert.ok(ids.includes([...leaders][0]!), 'the leader is one of the members');
      }
      const hash = await etcdctl(c.members[1]!.endpoint, ['endpoint', 'hashkv', '--cluster', '-w', 'json']);
      assert.equal(hash.code, 0, hash.stderr);
      const hs = JSON.parse(hash.stdout) as { Endpoint: string; HashKV: { hash: number } }[];
      assert.deepEqual(hs.map((h) => h.Endpoint).sort(), urls);
      assert.equal(new Set(hs.map((h) => h.HashKV.hash)).size, 1, `hashkv differs: ${hash.stdout}`);
      const health = await etcdctl(c.members[2]!.clientUrl, ['endpoint', 'health', '--cluster']);
      assert.equal(health.code, 0, health.stderr);
      assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3);
      const put = await etcdctl(c.members[0]!.clientUrl, ['put', 'url/k', 'v']);
      assert.equal(put.code, 0, put.stderr);
      const get = await etcdctl(c.members[1]!.clientUrl, ['get', 'url/k', '--print-value-only']);
      assert.equal(get.stdout.trim(), 'v', get.stderr);
    },
  );

  test('etcdctl move-leader hands leadership to the named voter', { skip: !haveEtcd() }, async () => {
    const leader = await c.waitLeader(10_000);
    const target = c.members.find((m) => m !== leader)!;
    const header = (await c.status(target))!['header'] as { memberId: unknown };
    const tid = BigInt(String(header.memberId));
    const r = await etcdctl(c.endpoints().join(','), ['move-leader', tid.toString(16)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Leadership transferred/);
    assert.equal((await c.waitLeader(5_000)).name, target.name);
    const bad = await etcdctl(target.endpoint, ['move-leader', 'abcdef']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /bad leader transferee/);
  });

  test('SIGTERM of the leader hands leadership over before the member exits', async () => {
    const leader = await c.waitLeader(10_000);
    const stoppedAt = Date.now();
    await c.stop(leader);
    const rest = c.members.filter((m) => m !== leader);
    const next = await c.waitLeader(c.electionMs, rest);
    assert.notEqual(next.name, leader.name);
    assert.ok(Date.now() - stoppedAt < 8000);
    await withClient(next, (cl) => cl.put('after-sigterm', '1'));
    await c.restart(leader);
    await c.waitLeader(10_000);
  });

  test(
    'keep-alives through a follower reach the leader: the lease outlives its TTL',
    { skip: !haveEtcd() },
    async () => {
      const leader = await c.waitLeader(10_000);
      const f = c.members.find((m) => m !== leader)!;
      const g = await etcdctl(f.endpoint, ['lease', 'grant', '3']);
      assert.equal(g.code, 0, g.stderr);
      const id = /lease ([0-9a-f]+) granted/.exec(g.stdout)![1]!;
      assert.equal((await etcdctl(f.endpoint, ['put', '--lease', id, 'leased', 'x'])).code, 0);
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const k = await etcdctl(f.endpoint, ['lease', 'keep-alive', '--once', id]);
        assert.equal(k.code, 0, k.stderr);
        assert.match(k.stdout, /keepalived with TTL\(3\)/);
        await sleep(700);
      }
      const ttl = await etcdctl(f.endpoint, ['lease', 'timetolive', id]);
      assert.match(ttl.stdout, /granted with TTL\(3s\), remaining\([123]s\)/, ttl.stdout);
      const got = await withClient(leader, (cl) => cl.range('leased'));
      assert.equal((got['kvs'] as unknown[]).length, 1, 'the key outlived the TTL');
    },
  );

  test('kill -9 of the leader: a new leader takes writes within 3 election timeouts, nothing acknowledged is lost', async () => {
    const acked: string[] = [];
    const old = await c.waitLeader(10_000);
    for (let i = 0; i < 20; i++) {
      await withClient(c.members[i % 3]!, (cl) => cl.put(`k9/${i}`, String(i)));
      acked.push(`k9/${i}`);
    }
    const killedAt = Date.now();
    await c.kill9(old);
    const rest = c.members.filter((m) => m !== old);
    await putSomewhere(rest, 'k9/after', 'x', killedAt + 3 * c.electionMs + 2000);
    const took = Date.now() - killedAt;
    acked.push('k9/after');
    assert.ok(took <= 3 * c.electionMs + 1000, `a write was accepted ${took} ms after the kill`);
    const leader = await c.waitLeader(5_000, rest);
    assert.notEqual(leader.name, old.name);
    await c.restart(old);
    await c.waitLeader(10_000);
    for (const m of c.members) {
      const got = await withClient(m, (cl) => cl.range('k9/', { rangeEnd: Buffer.from('k90') }));
      const keys = (got['kvs'] as { key: Buffer }[]).map((kv) => kv.key.toString()).sort();
      assert.deepEqual(keys, [...acked].sort(), `member ${m.name} after the restart`);
    }
  });
});

describe('snapshots in a 3-member cluster (--snapshot-count 50)', { timeout: 60_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3, {
      extraArgs: ['--snapshot-count', '50', '--snapshot-catchup-entries', '10'],
    });
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  const count = async (m: Member): Promise<number> => {
    try {
      const r = await withClient(m, (cl) =>
        cl.range('s/', { rangeEnd: Buffer.from('s0'), serializable: true, countOnly: true }),
      );
      return Number(r['count']);
    } catch {
      return -1;
    }
  };

  test('a member stopped until it is behind the leader’s log catches up through a snapshot', async () => {
    const leader = await c.waitLeader(10_000);
    const lag = c.members.find((m) => m !== leader)!;
    await c.kill9(lag);
    for (let i = 0; i < 200; i++) await withClient(leader, (cl) => cl.put(`s/${i}`, `v${i}`));
    await c.restart(lag);
    const until = Date.now() + 20_000;
    while ((await count(lag)) !== 200) {
      assert.ok(Date.now() < until, 'the lagging member did not catch up');
      await sleep(100);
    }
    assert.match(lag.stderr(), /applied snapshot/);
    assert.match(leader.stderr(), /sending database snapshot/);
    const v = await withClient(lag, (cl) => cl.range('s/199'));
    assert.equal((v['kvs'] as { value: Buffer }[])[0]!.value.toString(), 'v199');
    // The same history everywhere: revisions and hashes agree.
    const hashes = await Promise.all(
      c.members.map((m) =>
        withClient(m, (cl) => cl.call('etcdserverpb.Maintenance', 'HashKV', { revision: 0 })).then((h) =>
          String(h['hash']),
        ),
      ),
    );
    assert.equal(new Set(hashes).size, 1, `hashkv differs: ${hashes.join(',')}`);
  });

  test('a member restarted after taking a snapshot starts from it and keeps everything', async () => {
    const leader = await c.waitLeader(10_000);
    const m = c.members.find((x) => x !== leader)!;
    await c.kill9(m);
    await c.restart(m);
    const until = Date.now() + 10_000;
    while ((await count(m)) !== 200) {
      assert.ok(Date.now() < until, 'the restarted member lost data');
      await sleep(100);
    }
    await withClient(m, (cl) => cl.put('s/after', 'x'));
    assert.equal(await count(m), 201);
  });

  test('the whole cluster stopped (SIGTERM, then kill -9) and started again keeps everything', async () => {
    for (const stop of [(m: Member) => c.stop(m), (m: Member) => c.kill9(m)]) {
      await Promise.all(c.members.map(stop));
      await Promise.all(c.members.map((m) => c.restart(m)));
      await c.waitLeader(15_000);
      for (const m of c.members) {
        // A linearizable read first: each member has applied all that was committed.
        const r = await withClient(m, (cl) =>
          cl.range('s/', { rangeEnd: Buffer.from('s0'), countOnly: true }),
        );
        assert.equal(Number(r['count']), 201, `${m.name} after a full restart`);
      }
    }
  });
});
