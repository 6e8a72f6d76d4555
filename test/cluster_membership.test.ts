// Membership changes on a running 3-member cluster through etcdctl: a learner is added (not started),
// its promotion is refused until it is in sync, it is removed; a voter removed through its own endpoint
// learns of its removal and stops, and the other two go on serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster } from './helpers/cluster.ts';
import { etcdctl, freePort, haveEtcd } from './helpers/procs.ts';

describe('membership changes with etcdctl (3 members)', { timeout: 60_000, skip: !haveEtcd() }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3);
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  test('a member of another cluster (other token) is refused with "cluster ID mismatch"', async () => {
    const target = c.members[1]!;
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'tetcd-rogue-'));
    const peer = `http://127.0.0.1:${peerPort}`;
    const rogue = spawn(
      join(new URL('..', import.meta.url).pathname, 'bin/tetcd'),
      [
        '--name',
        'rogue',
        '--data-dir',
        dir,
        '--listen-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `rogue=${peer},${target.name}=${target.peerUrl}`,
        '--initial-cluster-token',
        'some-other-cluster',
      ],
      { stdio: 'ignore' },
    );
    try {
      const until = Date.now() + 10_000;
      while (!/cluster ID mismatch/.test(target.stderr())) {
        assert.ok(Date.now() < until, 'the foreign member was not refused');
        await new Promise((r) => setTimeout(r, 50));
      }
      const put = await etcdctl(c.endpoints().join(','), ['put', 'still-serving', '1']);
      assert.equal(put.code, 0, put.stderr);
    } finally {
      const exited = new Promise((r) => rogue.once('exit', r));
      rogue.kill('SIGKILL');
      if (rogue.exitCode === null && rogue.signalCode === null) await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a learner is added unstarted, its promotion refused until in sync, then removed', async () => {
    const ep = c.endpoints().join(',');
    const add = await etcdctl(ep, ['member', 'add', 'l1', '--learner', '--peer-urls=http://127.0.0.1:9']);
    assert.equal(add.code, 0, add.stderr);
    const id = /Member +([0-9a-f]+) added to cluster/.exec(add.stdout)![1]!;
    assert.match(add.stdout, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    const list = await etcdctl(ep, ['member', 'list']);
    assert.match(list.stdout, new RegExp(`${id}, unstarted, , http://127.0.0.1:9, , true`));
    const second = await etcdctl(ep, ['member', 'add', 'l2', '--learner', '--peer-urls=http://127.0.0.1:8']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /too many learner members in cluster/);
    // Asked of every member in turn: followers forward the promotion to the leader, which knows progress.
    for (const m of c.members) {
      const p = await etcdctl(m.endpoint, ['member', 'promote', id]);
      assert.notEqual(p.code, 0);
      assert.match(p.stderr, /can only promote a learner member which is in sync with leader/);
    }
    const dup = await etcdctl(ep, ['member', 'add', 'x', `--peer-urls=${c.members[0]!.peerUrl}`]);
    assert.match(dup.stderr, /Peer URLs already exists/);
    const rm = await etcdctl(ep, ['member', 'remove', id]);
    assert.equal(rm.code, 0, rm.stderr);
    const again = await etcdctl(ep, ['member', 'remove', id]);
    assert.match(again.stderr, /member not found/);
    assert.doesNotMatch((await etcdctl(ep, ['member', 'list'])).stdout, new RegExp(id));
  });

  test('a voter removed through its own endpoint stops; the other two keep serving', async () => {
    const victim = c.members[0]!;
    const header = (await c.status(victim))!['header'] as { memberId: unknown };
    const vid = BigInt(String(header.memberId)).toString(16);
    const rm = await etcdctl(victim.endpoint, ['member', 'remove', vid]);
    assert.equal(rm.code, 0, rm.stderr);
    const until = Date.now() + 5000;
    while (victim.proc && victim.proc.exitCode === null) {
      assert.ok(Date.now() < until, 'the removed member did not stop');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(victim.stderr(), /the member has been permanently removed from the cluster/);
    victim.proc = undefined;
    const rest = c.members.slice(1);
    await c.waitLeader(5_000, rest);
    const put = await etcdctl(rest.map((m) => m.endpoint).join(','), ['put', 'after-remove', '1']);
    assert.equal(put.code, 0, put.stderr);
    const list = await etcdctl(rest[0]!.endpoint, ['member', 'list']);
    assert.equal(list.stdout.trim().split('\n').length, 2, list.stdout);
    assert.doesNotMatch(list.stdout, new RegExp(vid));
  });
});
