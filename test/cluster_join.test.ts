// A member joins a running cluster: `member add --learner`, then a fourth process started with
// --initial-cluster-state existing fetches the member list from a peer, catches up through the leader,
// is promoted, and another member is removed; writes succeed throughout and every member has every key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Member, TestCluster } from './helpers/cluster.ts';
import { etcdctl, freePort, haveEtcd } from './helpers/procs.ts';

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
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      const stray: Member = {
        name: 'stray',
        clientPort,
        peerPort,
        endpoint: `127.0.0.1:${clientPort}`,
        clientUrl: `http://127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
        dataDir: mkdtempSync(join(tmpdir(), 'tetcd-cluster-stray-')),
        proc: undefined,
        stderr: () => '',
      };
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
      const [clientPort, peerPort] = [await freePort(), await freePort()];
      const m4: Member = {
        name: 'm4',
        clientPort,
        peerPort,
        endpoint: `127.0.0.1:${clientPort}`,
        clientUrl: `http://127.0.0.1:${clientPort}`,
        peerUrl: `http://127.0.0.1:${peerPort}`,
        dataDir: mkdtempSync(join(tmpdir(), 'tetcd-cluster-m4-')),
        proc: undefined,
        stderr: () => '',
      };
      const add = await etcdctl(ep, ['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`, '--learner']);
      assert.equal(add.code, 0, add.stderr);
      const id4 = /Member ([0-9a-f]+) added to cluster/.exec(add.stdout)![1]!;
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
