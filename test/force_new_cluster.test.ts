// Disaster recovery with --force-new-cluster, as with etcd: a 3-member cluster takes writes, loses two
// members for good (kill -9), and the survivor restarted with the flag becomes a one-member cluster
// with its data and its cluster ID: it serves every acknowledged key, lists only itself, takes writes,
// and a new member added with `etcdctl member add` joins it and serves the same keys.
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

/** Every key under "k/" with its value, as `m` serves it (linearizable unless `local`). */
async function keysOf(m: Member, local = false): Promise<Map<string, string>> {
  const r = await etcdctl(m.endpoint, [
    'get',
    '--prefix',
    'k/',
    '-w',
    'json',
    ...(local ? ['--consistency=s'] : []),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const kvs = (JSON.parse(r.stdout) as { kvs?: { key: string; value: string }[] }).kvs ?? [];
  const b64 = (s: string) => Buffer.from(s, 'base64').toString();
  return new Map(kvs.map((kv) => [b64(kv.key), b64(kv.value)]));
}

async function revisionOf(m: Member): Promise<number> {
  const c = new Client(m.endpoint);
  try {
    const r = (await c.call('etcdserverpb.KV', 'Range', { key: Buffer.from('k/'), serializable: true })) as {
      header: { revision: unknown };
    };
    return Number(r.header.revision);
  } finally {
    c.close();
  }
}

/** `member list` as "name peerURL" lines, sorted. */
async function memberList(m: Member): Promise<string[]> {
  const r = await etcdctl(m.endpoint, ['member', 'list']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(', '))
    .map((f) => `${f[2]} ${f[3]}`)
    .sort();
}

async function clusterId(m: Member): Promise<string> {
  const r = await etcdctl(m.endpoint, ['endpoint', 'status', '-w', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return String(
    (JSON.parse(r.stdout) as { Status: { header: { cluster_id: unknown } } }[])[0]!.Status.header.cluster_id,
  );
}

function scenario(title: string, extraArgs: string[], viaSnapshot: boolean): void {
  describe(title, { timeout: 120_000, skip: !haveEtcd() }, () => {
    let c: TestCluster;
    const dead: Member[] = [];
    const acked = new Map<string, string>();
    before(async () => {
      c = await TestCluster.start(3, { extraArgs });
      await c.waitLeader(15_000);
    });
    after(async () => {
      await c?.close();
      for (const m of dead) rmSync(m.dataDir, { recursive: true, force: true });
    });

    test('the survivor serves every acknowledged key, lists only itself, and a new member joins it', async () => {
      const leader = await c.waitLeader(10_000);
      // The survivor is a follower: its WAL's commit index lags its applied index (a commit-only change
      // rides on the next write), so the recovery must not drop what it applied.
      const survivor = c.members.find((m) => m !== leader)!;
      const id0 = await clusterId(survivor);
      // Writes through every member, 3 at a time; only acknowledged ones are recorded.
      const cl = c.members.map((m) => new Client(m.endpoint));
      try {
        for (let i = 0; i < 150; i += 3) {
          await Promise.all(
            [0, 1, 2].map(async (j) => {
              const key = `k/${String(i + j).padStart(4, '0')}`;
              const value = `v${i + j}`;
              await cl[j]!.call('etcdserverpb.KV', 'Put', {
                key: Buffer.from(key),
                value: Buffer.from(value),
              });
              acked.set(key, value);
            }),
          );
        }
      } finally {
        for (const x of cl) x.close();
      }
      const rev = await revisionOf(leader);
      await until(
        'the survivor to apply every acknowledged write',
        10_000,
        async () => (await revisionOf(survivor)) >= rev,
      );

      // Two members are lost for good.
      for (const m of c.members.filter((x) => x !== survivor)) {
        await c.kill9(m);
        dead.push(m);
      }
      c.members.splice(0, c.members.length, survivor);
      await c.kill9(survivor);

      await c.launch(survivor, ['--force-new-cluster']);
      // The log line may reach the pipe after the client port opens.
      await until('the forced restart to be logged', 5000, () =>
        Promise.resolve(/forcing restart member/.test(survivor.stderr())),
      );
      await c.waitLeader(10_000, [survivor]);
      assert.deepEqual(await keysOf(survivor), acked, 'every acknowledged key, linearizably');
      assert.deepEqual(await memberList(survivor), [`${survivor.name} ${survivor.peerUrl}`]);
      assert.equal(await clusterId(survivor), id0, 'the cluster ID stays');
      const put = await etcdctl(survivor.endpoint, ['put', 'k/after-force', 'yes']);
      assert.equal(put.code, 0, put.stderr);
      acked.set('k/after-force', 'yes');

      // A new member joins the recovered cluster.
      const m4 = await newMember('m4');
      const add = await etcdctl(survivor.endpoint, ['member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`]);
      assert.equal(add.code, 0, add.stderr);
      c.members.push(m4);
      await c.launch(m4, ['--initial-cluster-state', 'existing']);
      await c.waitLeader(15_000);
      await until('the new member to catch up', 20_000, async () => {
        const k = await keysOf(m4, true);
        return k.size === acked.size;
      });
      assert.deepEqual(await keysOf(m4), acked, 'the new member serves the same keys');
      if (viaSnapshot) {
        await until('the new member to log the snapshot it applied', 5000, () =>
          Promise.resolve(m4.stderr().includes('"msg":"applied snapshot"')),
        );
      }
      assert.deepEqual(
        await memberList(m4),
        [`m4 ${m4.peerUrl}`, `${survivor.name} ${survivor.peerUrl}`].sort(),
      );
      // Both are voters now: a write needs them both, and each serves it.
      const put2 = await etcdctl(m4.endpoint, ['put', 'k/after-join', 'yes']);
      assert.equal(put2.code, 0, put2.stderr);
      acked.set('k/after-join', 'yes');
      assert.deepEqual(await keysOf(survivor), acked);
    });
  });
}

scenario('--force-new-cluster: one survivor of three restarts as a one-member cluster', [], false);
// With snapshots: the survivor's WAL starts at a snapshot marker whose ConfState names the lost members,
// and the new member, behind the recovered leader's first index, catches up from a streamed snapshot.
scenario(
  '--force-new-cluster after snapshots: the new member catches up from a snapshot',
  ['--snapshot-count', '40', '--snapshot-catchup-entries', '5'],
  true,
);
