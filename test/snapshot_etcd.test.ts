// Snapshots in etcd's format, both directions, against etcd 3.4 itself:
//   tetcd -> etcdctl snapshot save -> etcdctl snapshot status -> etcdctl snapshot restore -> etcd 3.4
//   etcd 3.4 -> etcdctl snapshot save -> tetcdutl snapshot status / restore -> tetcd
// Each side must serve the same keys (values, versions, create/mod revisions, leases) as the source.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './helpers/client.ts';
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
const TETCDUTL = join(ROOT, 'bin/tetcdutl');

const dirs: string[] = [];
const procs: ChildProcess[] = [];
const servers: ServerHandle[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-snaptest-'));
  dirs.push(d);
  return d;
}

/** `snapshot restore` of `file` into `dataDir` as the one member `name` at `peer` (etcdctl's and tetcdutl's flags). */
function restoreArgs(file: string, dataDir: string, name: string, peer: string): string[] {
  return [
    'snapshot',
    'restore',
    file,
    '--data-dir',
    dataDir,
    '--name',
    name,
    '--initial-cluster',
    `${name}=${peer}`,
    '--initial-advertise-peer-urls',
    peer,
  ];
}

/** Starts etcd or tetcd on a restored data dir, as the one member `name` at `peer`. */
async function startOn(kind: 'etcd' | 'tetcd', dataDir: string, name: string, peer: string): Promise<string> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [...oneMemberArgs(name, dataDir, url, peer), '--log-level', 'error'];
  const proc = spawn(kind === 'etcd' ? 'etcd' : join(ROOT, 'bin/tetcd'), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
  procs.push(proc);
  try {
    await waitPort(port, 20_000, proc);
  } catch (e) {
    throw new Error(`${kind} on ${dataDir}: ${(e as Error).message}\n${err}`);
  }
  return `127.0.0.1:${port}`;
}

/**
 * Writes what a snapshot must carry: overwritten and deleted keys, two leases with keys, more than a
 * bbolt page of records, values larger than a page. Returns the lease IDs (hex).
 */
async function fill(endpoint: string): Promise<string[]> {
  const c = new Client(endpoint);
  try {
    await c.put('a', '1');
    await c.put('a', '2');
    await c.put('b', 'gone');
    await c.deleteRange('b');
    await c.compact(4);
    const leases: string[] = [];
    for (const ttl of [600, 900]) {
      const g = await c.call('etcdserverpb.Lease', 'LeaseGrant', { TTL: ttl });
      const id = BigInt(String(g['ID']));
      leases.push(id.toString(16));
      await c.put(`lease/${ttl}/x`, 'x', { lease: id.toString() });
      await c.put(`lease/${ttl}/y`, 'y', { lease: id.toString() });
    }
    for (let i = 0; i < 300; i++) await c.put(`many/${String(i).padStart(4, '0')}`, `value-${i}-`.repeat(8));
    await c.put('big/1', Buffer.alloc(20_000, 0x61));
    await c.put('big/2', Buffer.alloc(5_000, 0x62));
    await c.put('many/0007', 'again');
    return leases;
  } finally {
    c.close();
  }
}

/** Every key as `get --prefix -w json` prints it, without the header (IDs and terms differ). */
async function allKeys(endpoint: string, rev?: number): Promise<unknown> {
  const r = await etcdctl(endpoint, [
    'get',
    '',
    '--prefix',
    '-w',
    'json',
    ...(rev ? ['--rev', String(rev)] : []),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { kvs: unknown; count: number; header: { revision: number } };
  return { kvs: j.kvs, count: j.count, revision: rev ?? j.header.revision };
}

/** What a read below the compaction answers (the compacted revision must come across too). */
async function compacted(endpoint: string): Promise<string> {
  const r = await etcdctl(endpoint, ['get', 'a', '--rev', '3']);
  return `${r.code} ${r.stdout}${r.stderr.trim().split('\n').pop() ?? ''}`;
}

/** Each lease's granted TTL and keys (the remaining TTL moves on). */
async function leaseView(endpoint: string, ids: string[]): Promise<unknown> {
  const out: unknown[] = [];
  for (const id of ids) {
    const r = await etcdctl(endpoint, ['lease', 'timetolive', id, '--keys', '-w', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { id: number; 'granted-ttl': number; keys: string[] };
    out.push({ id: j.id, granted: j['granted-ttl'], keys: [...(j.keys ?? [])].sort() });
  }
  const list = await etcdctl(endpoint, ['lease', 'list']);
  return { out, list: list.stdout.split('\n').slice(1).sort() };
}

function run(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('snapshots in etcd 3.4 format', { skip: !haveEtcd() }, () => {
  test('a tetcd snapshot passes etcdctl snapshot status and restores into etcd 3.4 with the same keys and leases', async () => {
    const src = await startServer('tetcd');
    servers.push(src);
    const leases = await fill(src.endpoint);
    const dir = tmp();
    const file = join(dir, 'tetcd.db');
    const save = await etcdctl(src.endpoint, ['snapshot', 'save', file]);
    assert.equal(save.code, 0, save.stderr);
    const st = await etcdctl(src.endpoint, ['snapshot', 'status', file, '-w', 'json']);
    assert.equal(st.code, 0, st.stderr);
    const status = JSON.parse(st.stdout) as { revision: number; totalKey: number; totalSize: number };
    const want = (await allKeys(src.endpoint)) as { revision: number };
    assert.equal(status.revision, want.revision);
    assert.ok(status.totalSize > 3 * 4096, 'more than one page of data');

    // tetcdutl prints what etcdctl prints for the same file, in every format.
    for (const w of ['simple', 'table', 'json', 'fields']) {
      const e = await etcdctl(src.endpoint, ['snapshot', 'status', file, '-w', w]);
      const t = run(TETCDUTL, ['snapshot', 'status', file, '-w', w]);
      assert.equal(t.stdout, e.stdout, `status -w ${w}`);
    }

    const peer = `http://127.0.0.1:${await freePort()}`;
    const data = join(dir, 'etcd-restored');
    const rs = await etcdctl(src.endpoint, restoreArgs(file, data, 'r1', peer));
    assert.equal(rs.code, 0, rs.stderr);
    const etcd = await startOn('etcd', data, 'r1', peer);
    assert.deepEqual(await allKeys(etcd), want);
    assert.match(await compacted(etcd), /required revision has been compacted/);
    assert.equal(await compacted(etcd), await compacted(src.endpoint));
    // Membership is the restore's, not the source's.
    const ml = (await etcdctl(etcd, ['member', 'list'])).stdout.trim().split('\n');
    assert.equal(ml.length, 1, ml.join('\n'));
    assert.match(ml[0]!, new RegExp(`, started, r1, ${peer}, `));
    assert.deepEqual(await leaseView(etcd, leases), await leaseView(src.endpoint, leases));
  });

  test('an etcd 3.4 snapshot restored with tetcdutl gives a tetcd that serves the same keys and leases', async () => {
    const src = await startServer('etcd');
    servers.push(src);
    const leases = await fill(src.endpoint);
    const dir = tmp();
    const file = join(dir, 'etcd.db');
    const save = await etcdctl(src.endpoint, ['snapshot', 'save', file]);
    assert.equal(save.code, 0, save.stderr);
    for (const w of ['simple', 'table', 'json', 'fields']) {
      const e = await etcdctl(src.endpoint, ['snapshot', 'status', file, '-w', w]);
      const t = run(TETCDUTL, ['snapshot', 'status', file, '-w', w]);
      assert.equal(e.code, 0, e.stderr);
      assert.equal(t.stdout, e.stdout, `status -w ${w}`);
    }
    const peer = `http://127.0.0.1:${await freePort()}`;
    const data = join(dir, 'tetcd-restored');
    const rs = run(TETCDUTL, restoreArgs(file, data, 'r1', peer));
    assert.equal(rs.code, 0, rs.stderr);
    // The same member and cluster IDs as etcdctl's restore derives from the same flags.
    const ers = await etcdctl(src.endpoint, restoreArgs(file, join(dir, 'etcd-ids'), 'r1', peer));
    const added = /"cluster-id":"([0-9a-f]+)".*"added-peer-id":"([0-9a-f]+)"/.exec(ers.stderr);
    assert.ok(added, ers.stderr);
    const mine = JSON.parse(rs.stderr.trim().split('\n').pop()!) as Record<string, string>;
    assert.equal(mine['cluster-id'], added[1]);
    assert.equal(mine['member-id'], added[2]);
    const tetcd = await startOn('tetcd', data, 'r1', peer);
    assert.deepEqual(await allKeys(tetcd), await allKeys(src.endpoint));
    assert.match(await compacted(tetcd), /required revision has been compacted/);
    assert.equal(await compacted(tetcd), await compacted(src.endpoint));
    const ml = (await etcdctl(tetcd, ['member', 'list'])).stdout.trim().split('\n');
    assert.equal(ml.length, 1, ml.join('\n'));
    assert.match(ml[0]!, new RegExp(`, started, r1, ${peer}, `));
    assert.deepEqual(await leaseView(tetcd, leases), await leaseView(src.endpoint, leases));
    // The restored member takes writes on from the snapshot's revision.
    const put = await etcdctl(tetcd, ['put', 'after', 'restore', '-w', 'json']);
    assert.equal(put.code, 0, put.stderr);
    const wantRev = ((await allKeys(src.endpoint)) as { revision: number }).revision + 1;
    assert.equal((JSON.parse(put.stdout) as { header: { revision: number } }).header.revision, wantRev);
  });

  test('users, roles, permissions and auth enabled go across in both directions', async () => {
    const AUTH_SETUP = [
      ['user', 'add', 'root:pw'],
      ['user', 'add', 'alice:apw'],
      ['role', 'add', 'r1'],
      ['role', 'grant-permission', 'r1', 'readwrite', 'a', 'b'],
      ['user', 'grant-role', 'alice', 'r1'],
      ['auth', 'enable'],
      ['--user', 'root:pw', 'put', 'a', '1'],
    ];
    const CHECKS = [
      ['--user', 'root:pw', 'user', 'list'],
      ['--user', 'root:pw', 'user', 'get', 'alice'],
      ['--user', 'root:pw', 'role', 'get', 'r1'],
      ['--user', 'alice:apw', 'get', 'a'],
      ['--user', 'alice:apw', 'put', 'c', '1'],
      ['--user', 'alice:bad', 'get', 'a'],
      ['get', 'a'],
    ];
    const view = async (endpoint: string) => {
      const out: string[] = [];
      for (const args of CHECKS) {
        const r = await etcdctl(endpoint, args);
        out.push(`${args.join(' ')} -> ${r.code} ${r.stdout}${r.stderr.trim().split('\n').pop() ?? ''}`);
      }
      return out;
    };
    const src = await startServer('tetcd');
    servers.push(src);
    for (const args of AUTH_SETUP) assert.equal((await etcdctl(src.endpoint, args)).code, 0, args.join(' '));
    const dir = tmp();
    const file = join(dir, 'auth.db');
    // Only an admin may take a snapshot.
    const denied = await etcdctl(src.endpoint, [
      '--user',
      'alice:apw',
      'snapshot',
      'save',
      join(dir, 'no.db'),
    ]);
    assert.notEqual(denied.code, 0);
    assert.equal((await etcdctl(src.endpoint, ['--user', 'root:pw', 'snapshot', 'save', file])).code, 0);
    const peer = `http://127.0.0.1:${await freePort()}`;
    const flags = (n: string, p: string) => [
      '--name',
      n,
      '--initial-cluster',
      `${n}=${p}`,
      '--initial-advertise-peer-urls',
      p,
    ];
    const eData = join(dir, 'etcd');
    const rs = await etcdctl(src.endpoint, [
      'snapshot',
      'restore',
      file,
      '--data-dir',
      eData,
      ...flags('r1', peer),
    ]);
    assert.equal(rs.code, 0, rs.stderr);
    const etcd = await startOn('etcd', eData, 'r1', peer);
    const want = await view(src.endpoint);
    assert.deepEqual(await view(etcd), want);

    // And back: etcd's snapshot of that member, restored by tetcdutl.
    const back = join(dir, 'back.db');
    assert.equal((await etcdctl(etcd, ['--user', 'root:pw', 'snapshot', 'save', back])).code, 0);
    const peer2 = `http://127.0.0.1:${await freePort()}`;
    const tData = join(dir, 'tetcd');
    const rt = run(TETCDUTL, ['snapshot', 'restore', back, '--data-dir', tData, ...flags('r2', peer2)]);
    assert.equal(rt.code, 0, rt.stderr);
    const tetcd = await startOn('tetcd', tData, 'r2', peer2);
    assert.deepEqual(await view(tetcd), want);
  });

  test('migrate: a stopped etcd 3.4 member’s data dir becomes a tetcd data dir with the same keys', async () => {
    const src = await startServer('etcd');
    servers.push(src);
    await fill(src.endpoint);
    const want = await allKeys(src.endpoint);
    await src.stop();
    const dir = tmp();
    const peer = `http://127.0.0.1:${await freePort()}`;
    const data = join(dir, 'migrated');
    const rs = run(TETCDUTL, [
      'migrate',
      '--from-etcd-data-dir',
      src.dataDir,
      '--data-dir',
      data,
      '--name',
      'r1',
      '--initial-cluster',
      `r1=${peer}`,
      '--initial-advertise-peer-urls',
      peer,
    ]);
    assert.equal(rs.code, 0, rs.stderr);
    const tetcd = await startOn('tetcd', data, 'r1', peer);
    assert.deepEqual(await allKeys(tetcd), want);
  });

  test('a truncated file or a bad trailer: one error line, as etcdctl’s, and no data dir left', async () => {
    const src = await startServer('tetcd');
    servers.push(src);
    await fill(src.endpoint);
    const dir = tmp();
    const file = join(dir, 'ok.db');
    assert.equal((await etcdctl(src.endpoint, ['snapshot', 'save', file])).code, 0);
    const whole = readFileSync(file);
    const truncated = join(dir, 'truncated.db');
    writeFileSync(truncated, whole.subarray(0, whole.length - 1000));
    const badTrailer = join(dir, 'bad-trailer.db');
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 1]! ^= 0xff;
    writeFileSync(badTrailer, flipped);
    const badBody = join(dir, 'bad-body.db');
    const body = Buffer.from(whole);
    body[5 * 4096 + 100]! ^= 0xff;
    writeFileSync(badBody, body);
    for (const f of [truncated, badTrailer, badBody]) {
      const peer = 'http://127.0.0.1:2380';
      const flags = [
        '--name',
        'r1',
        '--initial-cluster',
        `r1=${peer}`,
        '--initial-advertise-peer-urls',
        peer,
      ];
      const tData = join(dir, 'tetcd-out');
      const eData = join(dir, 'etcd-out');
      const t = run(TETCDUTL, ['snapshot', 'restore', f, '--data-dir', tData, ...flags]);
      const e = await etcdctl(src.endpoint, ['snapshot', 'restore', f, '--data-dir', eData, ...flags]);
      assert.notEqual(e.code, 0, `etcdctl refuses ${f}`);
      assert.equal(t.code, 1, `tetcdutl refuses ${f}`);
      const lines = t.stderr.trim().split('\n');
      assert.equal(lines.length, 1, t.stderr);
      const eLine = e.stderr.trim().split('\n').pop();
      assert.equal(lines[0], eLine, `the same error as etcdctl for ${f}`);
      assert.equal(existsSync(tData), false, 'nothing left behind');
      rmSync(eData, { recursive: true, force: true });
    }
    // Without the hash check, a cut db is still refused: its meta page counts pages the file lacks.
    const cut = join(dir, 'cut.db');
    writeFileSync(cut, whole.subarray(0, 4 * 4096));
    const peer = 'http://127.0.0.1:2380';
    const tData = join(dir, 'tetcd-cut');
    const t = run(TETCDUTL, [...restoreArgs(cut, tData, 'r1', peer), '--skip-hash-check']);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /^Error: bbolt file is truncated: 16384 bytes, its meta says \d+\n$/);
    assert.equal(existsSync(tData), false, 'nothing left behind');
  });
});
