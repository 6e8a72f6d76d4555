// A 3-member tetcd cluster with peer TLS (--peer-cert-file, --peer-trusted-ca-file,
// --peer-client-cert-auth, https:// peer URLs) and client TLS (--client-cert-auth) survives a kill -9 of
// its leader: the survivors elect a leader and take writes, and the restarted member catches up over
// TLS. etcdctl 3.4 with --cacert/--cert/--key is the client throughout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort } from './helpers/procs.ts';
import { memberArgs } from './helpers/cluster.ts';
import { ctlTls, makePki, runToExit, spawnServer, waitHttps, type Pki } from './helpers/tls_procs.ts';

interface M {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  args: string[];
  proc: ChildProcess | undefined;
  stderr: () => string;
}

let pki: Pki;
const members: M[] = [];

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

async function launch(m: M): Promise<void> {
  const { proc, stderr } = spawnServer('tetcd', m.args);
  m.proc = proc;
  m.stderr = stderr;
  try {
    await waitHttps(m.clientUrl, pki, proc, 20_000);
  } catch (e) {
    throw new Error(`${m.name}: ${(e as Error).message}\n${stderr().slice(-2000)}`);
  }
}

const ctl = (endpoints: string[], args: string[]) =>
  runToExit('etcdctl', [
    `--endpoints=${endpoints.join(',')}`,
    '--dial-timeout=2s',
    '--command-timeout=4s',
    ...ctlTls(pki),
    ...args,
  ]);

/** The member every running member names as leader, once they agree (bounded). */
async function leader(among: M[], ms = 15_000): Promise<M> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await ctl(
      among.map((m) => m.clientUrl),
      ['endpoint', 'status', '-w', 'json'],
    );
    if (r.code === 0) {
      const st = JSON.parse(r.stdout) as {
        Endpoint: string;
        Status: { leader: number; header: { member_id: number } };
      }[];
      // JSON numbers lose precision above 2^53: compare the raw digits instead.
      const leaders = new Set([...r.stdout.matchAll(/"leader":(\d+)/g)].map((x) => x[1]));
      const ids = [...r.stdout.matchAll(/"member_id":(\d+)/g)].map((x) => x[1]);
      if (st.length === among.length && leaders.size === 1) {
        const i = ids.indexOf([...leaders][0]);
        if (i >= 0) return among.find((m) => m.clientUrl === st[i]!.Endpoint)!;
      }
    }
    if (Date.now() > until) throw new Error(`no agreed leader after ${ms} ms: ${r.stdout} ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

before(async () => {
  pki = await makePki();
  for (const name of ['m1', 'm2', 'm3']) {
    members.push({
      name,
      clientUrl: `https://127.0.0.1:${await freePort()}`,
      peerUrl: `https://127.0.0.1:${await freePort()}`,
      dataDir: mkdtempSync(join(tmpdir(), `tetcd-tls-cluster-${name}-`)),
      args: [],
      proc: undefined,
      stderr: () => '',
    });
  }
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  for (const m of members) {
    const peer = await pki.peer(m.name);
    m.args = [
      // etcd's default timing, given explicitly as every test cluster does.
      ...memberArgs(m, { initialCluster: initial, token: 'tls-cluster', heartbeatMs: 100, electionMs: 1000 }),
      '--cert-file',
      pki.server.cert,
      '--key-file',
      pki.server.key,
      '--trusted-ca-file',
      pki.caFile,
      '--client-cert-auth',
      '--peer-cert-file',
      peer.cert,
      '--peer-key-file',
      peer.key,
      '--peer-trusted-ca-file',
      pki.caFile,
      '--peer-client-cert-auth',
      '--log-level',
      'info',
    ];
  }
  await Promise.all(members.map((m) => launch(m)));
});

after(async () => {
  for (const m of members) {
    if (m.proc && m.proc.exitCode === null && m.proc.signalCode === null) {
      m.proc.kill('SIGKILL');
      await exited(m.proc);
    }
    rmSync(m.dataDir, { recursive: true, force: true });
  }
  pki.cleanup();
});

test('3 members with peer and client TLS survive a kill -9 of the leader; the restarted one catches up', async () => {
  const all = members.map((m) => m.clientUrl);
  const put = await ctl(all, ['put', 'before', '1']);
  assert.equal(put.code, 0, put.stderr);
  const old = await leader(members);
  old.proc!.kill('SIGKILL');
  await exited(old.proc!);
  old.proc = undefined;
  const rest = members.filter((m) => m !== old);
  // The survivors elect a new leader and take writes (bounded: a few election timeouts).
  const until = Date.now() + 20_000;
  let wrote = false;
  while (!wrote && Date.now() < until) {
    const r = await ctl(
      rest.map((m) => m.clientUrl),
      ['put', 'after', '2'],
    );
    wrote = r.code === 0;
    if (!wrote) await new Promise((res) => setTimeout(res, 200));
  }
  assert.ok(wrote, 'the survivors took a write');
  const next = await leader(rest);
  assert.notEqual(next, old);
  for (const m of rest) {
    const g = await ctl([m.clientUrl], ['get', 'after', '--print-value-only']);
    assert.equal(g.stdout.trim(), '2', `${m.name}: ${g.stderr}`);
  }
  // The killed member comes back and catches up over peer TLS.
  await launch(old);
  const back = Date.now() + 15_000;
  let seen = '';
  while (Date.now() < back) {
    const g = await ctl([old.clientUrl], ['get', 'after', '--print-value-only', '--consistency=s']);
    seen = g.stdout.trim();
    if (seen === '2') break;
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(seen, '2', old.stderr().slice(-2000));
  await leader(members);
  // Every peer connection was accepted: no refusals, no handshake failures.
  for (const m of members) assert.doesNotMatch(m.stderr(), /rejected peer connection/, m.name);
});
