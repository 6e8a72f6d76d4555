// A member joins a running cluster: `member add --learner`, then a fourth process started with
// --initial-cluster-state existing fetches the member list from a peer, catches up through the leader,
// is promoted, and another member is removed; writes succeed throughout and every member has every key.
// And a member added after the cluster compacted its raft log can only catch up through a snapshot
// streamed to it: it then serves every key, at the same revision and hashkv as the others.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { type Member, newMember, TestCluster } from './helpers/cluster.ts';
import { etcdctl, haveEtcd } from './helpers/procs.ts';
import { Client } from './helpers/client.ts';

async function until(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The keys and values under "k/" as `m` sees them locally (serializable read). */
async function localKeys(m: Member): Promise<string> {
  const r = await etcdctl(m.endpoint, ['get', '--consistency=s', '--prefix', 'k/']);
  return r.code === 0 ? r.stdout : `error: ${r.stderr}`;
}

describe(
  'joining a running cluster (--initial-cluster-state existing)',
  { timeout: 60_000, skip: !haveEtcd() },
  () => {
    let c: TestCluster;
    let written = 0;
    const put = async (ep: string) => {
      const r = await etcdctl(ep, ['put', `k/${String(written).padStart(3, '0')}`, `v${written}`]);
      assert.equal(r.code, 0, r.stderr);
      written++;
    };
    before(async () => {
      c = await TestCluster.start(3);
      await c.waitLeader(15_000);
    });
    after(async () => {
      await c?.close();
    });

    test('a member that was never added is refused with "not found in the cluster"', async () => {
      const stray = await newMember('stray');
      try {
        await assert.rejects(
          c.launch(stray, ['--initial-cluster-state', 'existing']),
          /not found in the cluster \(run "etcdctl member add" first\)/,
        );
      } finally {
        await c.stop(stray);
        rmSync(stray.dataDir, { recursive: true, force: true });
      }
    });

    test('a learner joins, catches up, is promoted; another member is removed', async () => {
      let ep = c.endpoints().join(',');
      for (let i = 0; i < 20; i++) await put(ep);
      const m4 = await newMember('m4');
      const add = await etcdctl(ep, ['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`, '--learner']);
      assert.equal(add.code, 0, add.stderr);
      const id4 = /Member +([0-9a-f]+) added to cluster/.exec(add.stdout)![1]!;
      c.members.push(m4);
      await c.launch(m4, ['--initial-cluster-state', 'existing']);
      assert.match(m4.stderr(), /joining an existing cluster/);
      await put(ep);

      const leader = await c.waitLeader(10_000, c.members.slice(0, 3));
      await until(
        'the learner to catch up',
        20_000,
        async () => (await localKeys(m4)) === (await localKeys(leader)),
      );
      assert.match(await localKeys(m4), new RegExp(`k/${String(written - 1).padStart(3, '0')}`));

      let promoted = false;
      await until('the promotion to be accepted', 15_000, async () => {
        const p = await etcdctl(ep, ['member', 'promote', id4]);
        promoted = p.code === 0;
        return promoted;
      });
      const list = await etcdctl(ep, ['member', 'list']);
      assert.match(list.stdout, new RegExp(`${id4}, started, m4, ${m4.peerUrl}, ${m4.clientUrl}, false`));
      await put(ep);

      // Remove a member that is not the leader, so the remaining three keep their quorum at once.
      const now = await c.waitLeader(10_000);
      const victim = c.members.find((m) => m !== now && m !== m4)!;
      const st = await c.status(victim);
      const victimId = BigInt(String((st!['header'] as { memberId: unknown }).memberId)).toString(16);
      const rm = await etcdctl(now.endpoint, ['member', 'remove', victimId]);
      assert.equal(rm.code, 0, rm.stderr);
      await c.stop(victim);
      const rest = c.members.filter((m) => m !== victim);
      ep = rest.map((m) => m.endpoint).join(',');
      for (let i = 0; i < 5; i++) await put(ep);

      const want = await localKeys(await c.waitLeader(10_000, rest));
      assert.equal(want.split('\n').filter((l) => l.startsWith('k/')).length, written);
      for (const m of rest) {
        await until(`${m.name} to have every key`, 10_000, async () => (await localKeys(m)) === want);
      }
      const after = await etcdctl(ep, ['member', 'list']);
      assert.equal(after.stdout.trim().split('\n').length, 3);
      assert.doesNotMatch(after.stdout, new RegExp(`^${victimId},`, 'm'));
    });
  },
);

describe(
  'a member added after the raft log was compacted joins through a snapshot',
  { timeout: 60_000 },
  () => {
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

    const withClient = async <T>(m: Member, f: (cl: Client) => Promise<T>): Promise<T> => {
      const cl = new Client(m.endpoint);
      try {
        return await f(cl);
      } finally {
        cl.close();
      }
    };
    /** `m`'s own view (serializable): the revision and every key under "j/" with its value. */
    const view = (m: Member) =>
      withClient(m, async (cl) => {
        const r = await cl.range('j/', { rangeEnd: Buffer.from('j0'), serializable: true });
        const kvs = (r['kvs'] as { key: Buffer; value: Buffer }[]).map((kv) => `${kv.key}=${kv.value}`);
        return { rev: Number(r['header'].revision), kvs: kvs.join(',') };
      });

    test('MemberAdd, then --initial-cluster-state existing: the joiner gets a snapshot, not the log', async () => {
      const N = 300;
      const leader = await c.waitLeader(10_000);
      await withClient(leader, async (cl) => {
        for (let i = 0; i < N; i++) await cl.put(`j/${String(i).padStart(3, '0')}`, `v${i}`);
      });
      // Every member has compacted its log well past index 1, so no one can send the joiner the log.
      for (const m of c.members) {
        const compacted = [...m.stderr().matchAll(/"compact-index":(\d+)[^\n]*compacted raft logs/g)];
        assert.ok(compacted.length > 0 && Number(compacted.at(-1)![1]) > 100, `${m.name} compacted its log`);
      }

      const m4 = await newMember('m4');
      const added = await withClient(leader, (cl) =>
        cl.call('etcdserverpb.Cluster', 'MemberAdd', { peerURLs: [m4.peerUrl] }),
      );
      const id4 = BigInt(String((added['member'] as { ID: unknown }).ID)).toString(16);
      c.members.push(m4);
      await c.launch(m4, ['--initial-cluster-state', 'existing']);

      // It serves everything, including what is written after it joined (through it, as a voter).
      const want = await view(leader);
      const end = Date.now() + 20_000;
      while ((await view(m4).catch(() => undefined))?.rev !== want.rev) {
        assert.ok(Date.now() < end, `m4 did not catch up:\n${m4.stderr().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(await view(m4), want);
      await withClient(m4, (cl) => cl.put('j/after', 'joined'));
      const rev = want.rev + 1;
      for (const m of c.members) {
        await withClient(m, (cl) => cl.range('j/after')); // linearizable: m has applied the last put
        const v = await view(m);
        assert.equal(v.rev, rev, `${m.name}'s revision`);
        assert.equal(v.kvs, `${want.kvs},j/after=joined`, `${m.name}'s keys`);
      }
      const hashes = await Promise.all(
        c.members.map((m) =>
          withClient(m, (cl) => cl.call('etcdserverpb.Maintenance', 'HashKV', { revision: rev })).then((h) =>
            String(h['hash']),
          ),
        ),
      );
      assert.equal(new Set(hashes).size, 1, `hashkv differs: ${hashes.join(',')}`);

      // It got the data as a snapshot: streamed to it, applied whole at a revision past every put.
      assert.match(m4.stderr(), /received snapshot \d+ \(\d+ bytes\)/);
      const applied = /"revision":(\d+),"msg":"applied snapshot"/.exec(m4.stderr());
      assert.ok(applied && Number(applied[1]) > N, `m4 applied a snapshot holding the ${N} puts`);
      const senders = c.members.filter((m) =>
        new RegExp(`"to":"${id4}"[^\n]*"sending database snapshot"`).test(m.stderr()),
      );
      assert.ok(senders.length > 0, `a member sent ${id4} a database snapshot`);
    });
  },
);
