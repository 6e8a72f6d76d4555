// Users, roles, permissions and bcrypt hashes move with a snapshot both ways: a tetcd snapshot
// (etcdctl snapshot save) restored by etcdctl serves etcd 3.4 with the same logins and permissions,
// and an etcd 3.4 snapshot restored by tetcdutl serves tetcd with them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  etcdctl,
  freePort,
  oneMemberArgs,
  haveEtcd,
  startServer,
  waitPort,
  type ServerHandle,
} from './helpers/procs.ts';

const ROOT = new URL('..', import.meta.url).pathname;

const dirs: string[] = [];
const procs: ChildProcess[] = [];
const servers: ServerHandle[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-authsnap-'));
  dirs.push(d);
  return d;
}

/** etcd or tetcd on a restored data dir, as the one member `default` at `peer`. */
async function startOn(kind: 'etcd' | 'tetcd', dataDir: string, peer: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = oneMemberArgs('default', dataDir, url, peer);
  const proc = spawn(kind === 'etcd' ? 'etcd' : join(ROOT, 'bin/tetcd'), args, { stdio: 'ignore' });
  procs.push(proc);
  await waitPort(port, 20_000, proc);
  return `127.0.0.1:${port}`;
}

async function ok(ep: string, args: string[]): Promise<string> {
  const r = await etcdctl(ep, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Users root and u (readwrite on k), auth enabled. */
async function setUp(ep: string): Promise<void> {
  for (const a of [
    ['user', 'add', 'root:rootpw'],
    ['user', 'grant-role', 'root', 'root'],
    ['user', 'add', 'u:upw'],
    ['role', 'add', 'r'],
    ['role', 'grant-permission', 'r', 'readwrite', 'k'],
    ['user', 'grant-role', 'u', 'r'],
    ['auth', 'enable'],
  ]) {
    await ok(ep, a);
  }
}

/** What the restored member must do: the same logins and the same permissions. */
async function check(ep: string): Promise<void> {
  assert.match((await etcdctl(ep, ['put', 'k', 'v'])).stderr, /user name is empty/);
  assert.equal(await ok(ep, ['--user', 'u:upw', 'put', 'k', 'v']), 'OK\n');
  assert.match((await etcdctl(ep, ['--user', 'u:upw', 'put', 'z', 'v'])).stderr, /permission denied/);
  assert.match((await etcdctl(ep, ['--user', 'u:bad', 'get', 'k'])).stderr, /invalid user ID or password/);
  assert.equal(await ok(ep, ['--user', 'root:rootpw', 'user', 'list']), 'root\nu\n');
  assert.match(await ok(ep, ['--user', 'root:rootpw', 'role', 'get', 'r']), /KV Read:\n\tk\nKV Write:\n\tk/);
}

describe(
  'auth data moves with a snapshot both ways',
  { timeout: 90_000, skip: !haveEtcd() && 'etcd is not installed' },
  () => {
    test('tetcd -> etcdctl snapshot save -> etcdctl snapshot restore -> etcd 3.4', async () => {
      const t = await startServer('tetcd', { args: ['--bcrypt-cost', '4'] });
      servers.push(t);
      await setUp(t.endpoint);
      const d = tmp();
      await ok(t.endpoint, ['--user', 'root:rootpw', 'snapshot', 'save', join(d, 's.db')]);
      const restored = join(d, 'etcd');
      const peer = `http://127.0.0.1:${await freePort()}`;
      const r = spawnSync(
        'etcdctl',
        [
          'snapshot',
          'restore',
          join(d, 's.db'),
          '--data-dir',
          restored,
          '--initial-cluster',
          `default=${peer}`,
          '--initial-advertise-peer-urls',
          peer,
        ],
        { env: { ...process.env, ETCDCTL_API: '3' } },
      );
      assert.equal(r.status, 0, r.stderr.toString());
      await check(await startOn('etcd', restored, peer));
    });

    test('etcd 3.4 -> etcdctl snapshot save -> tetcdutl snapshot restore -> tetcd', async () => {
      const e = await startServer('etcd');
      servers.push(e);
      await setUp(e.endpoint);
      const d = tmp();
      await ok(e.endpoint, ['--user', 'root:rootpw', 'snapshot', 'save', join(d, 's.db')]);
      const restored = join(d, 'tetcd');
      const peer = `http://127.0.0.1:${await freePort()}`;
      const r = spawnSync(join(ROOT, 'bin/tetcdutl'), [
        'snapshot',
        'restore',
        join(d, 's.db'),
        '--data-dir',
        restored,
        '--initial-cluster',
        `default=${peer}`,
        '--initial-advertise-peer-urls',
        peer,
      ]);
      assert.equal(r.status, 0, r.stderr.toString());
      await check(await startOn('tetcd', restored, peer));
    });
  },
);
