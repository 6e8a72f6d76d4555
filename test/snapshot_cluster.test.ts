// A snapshot of a 3-member tetcd taken while clients write: etcdctl 3.4 saves it and its status
// accepts it, and etcd 3.4 restored from it serves exactly the keys tetcd held at the snapshot's
// revision (one read transaction: no write half in, half out). The same snapshot restored with
// tetcdutl on three new members forms a new tetcd cluster serving the same.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './helpers/client.ts';
import { TestCluster } from './helpers/cluster.ts';
import { etcdctl, freePort, oneMemberArgs, haveEtcd, waitPort } from './helpers/procs.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
const procs: ChildProcess[] = [];
let cluster: TestCluster | undefined;
after(async () => {
  await cluster?.close();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function keysAt(endpoint: string, rev: number): Promise<unknown> {
  const r = await etcdctl(endpoint, ['get', '', '--prefix', '-w', 'json', '--rev', String(rev)]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { kvs: unknown; count: number };
  return { kvs: j.kvs, count: j.count };
}

function spawnMember(cmd: string, args: string[]): ChildProcess {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr!.resume();
  procs.push(p);
  return p;
}

describe('a snapshot of a 3-member tetcd under write load', { skip: !haveEtcd() }, () => {
  test('passes etcdctl snapshot status and restores into etcd 3.4 and into a new tetcd cluster', async () => {
    cluster = await TestCluster.start(3);
    await cluster.waitLeader();
    const clients = cluster.endpoints().map((e) => new Client(e));
    let stop = false;
    let written = 0;
    const writers = clients.map(async (c, w) => {
      for (let i = 0; !stop; i++) {
        await c.put(`load/${w}/${i % 200}`, `v${i}-`.repeat(20));
        written++;
      }
    });
    try {
      while (written < 300) await new Promise((r) => setTimeout(r, 20));
      const dir = mkdtempSync(join(tmpdir(), 'tetcd-snapcluster-'));
      dirs.push(dir);
      const file = join(dir, 'snap.db');
      // From a member that may be a follower: every member's backend is a valid snapshot.
      const save = await etcdctl(cluster.endpoints()[2]!, ['snapshot', 'save', file]);
      assert.equal(save.code, 0, save.stderr);
      const before = written;
      while (written < before + 100) await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await Promise.all(writers);

      const st = await etcdctl(cluster.endpoints()[0]!, ['snapshot', 'status', file, '-w', 'json']);
      assert.equal(st.code, 0, st.stderr);
      const rev = (JSON.parse(st.stdout) as { revision: number }).revision;
      assert.ok(rev > 300, `revision ${rev}`);
      const want = await keysAt(cluster.endpoints()[0]!, rev);

      // Into etcd 3.4.
      const peer = `http://127.0.0.1:${await freePort()}`;
      const data = join(dir, 'etcd');
      const rs = await etcdctl(cluster.endpoints()[0]!, [
        'snapshot',
        'restore',
        file,
        '--data-dir',
        data,
        '--name',
        'e1',
        '--initial-cluster',
        `e1=${peer}`,
        '--initial-advertise-peer-urls',
        peer,
      ]);
      assert.equal(rs.code, 0, rs.stderr);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const etcd = spawnMember('etcd', oneMemberArgs('e1', data, url, peer));
      await waitPort(port, 20_000, etcd);
      assert.deepEqual(await keysAt(`127.0.0.1:${port}`, rev), want);

      // Into three new tetcd members: one cluster, the same keys on each.
      const names = ['t1', 't2', 't3'];
      const peers = await Promise.all(names.map(async () => `http://127.0.0.1:${await freePort()}`));
      const initial = names.map((n, i) => `${n}=${peers[i]}`).join(',');
      const ports: number[] = [];
      for (const [i, n] of names.entries()) {
        const d = join(dir, n);
        const r = spawnSync(
          join(ROOT, 'bin/tetcdutl'),
          [
            'snapshot',
            'restore',
            file,
            '--data-dir',
            d,
            '--name',
            n,
            '--initial-cluster',
            initial,
            '--initial-cluster-token',
            'restored',
            '--initial-advertise-peer-urls',
            peers[i]!,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(r.status, 0, r.stderr);
        const p = await freePort();
        ports.push(p);
        const u = `http://127.0.0.1:${p}`;
        spawnMember(join(ROOT, 'bin/tetcd'), [
          '--name',
          n,
          '--data-dir',
          d,
          '--listen-client-urls',
          u,
          '--advertise-client-urls',
          u,
          '--listen-peer-urls',
          peers[i]!,
          '--initial-advertise-peer-urls',
          peers[i]!,
          '--initial-cluster',
          initial,
          '--initial-cluster-token',
          'restored',
        ]);
      }
      await Promise.all(ports.map((p, i) => waitPort(p, 20_000, procs[procs.length - 3 + i]!)));
      const put = await etcdctl(`127.0.0.1:${ports[0]}`, ['put', 'after', 'restore']);
      assert.equal(put.code, 0, put.stderr);
      for (const p of ports) assert.deepEqual(await keysAt(`127.0.0.1:${p}`, rev), want);
      const members = await etcdctl(`127.0.0.1:${ports[1]}`, ['member', 'list']);
      assert.equal(members.stdout.trim().split('\n').length, 3, members.stdout);
    } finally {
      stop = true;
      await Promise.allSettled(writers);
      for (const c of clients) c.close();
    }
  });
});
