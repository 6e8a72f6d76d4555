// tetcdutl's offline commands on a tetcd data dir: hashkv gives what the HashKV RPC gave (latest and
// --rev), defrag compacts the file and the member starts on it with the same data; both refuse a dir
// a running member holds, in one line.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

const TETCDUTL = join(new URL('..', import.meta.url).pathname, 'bin/tetcdutl');
const servers: ServerHandle[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.destroy()));
});

function util(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(TETCDUTL, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function rpcHash(endpoint: string, rev?: number): Promise<{ hash: number; compact: number }> {
  const r = await etcdctl(endpoint, [
    'endpoint',
    'hashkv',
    '-w',
    'json',
    ...(rev ? ['--rev', String(rev)] : []),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { HashKV: { hash: number; compact_revision: number } }[];
  return { hash: j[0]!.HashKV.hash, compact: j[0]!.HashKV.compact_revision };
}

test('tetcdutl hashkv and defrag on a stopped member’s data dir', { skip: !haveEtcd() }, async () => {
  let s = await startServer('tetcd');
  servers.push(s);
  for (let i = 0; i < 200; i++) {
    const r = await etcdctl(s.endpoint, ['put', `k${i % 20}`, `value-${i}`.repeat(30)]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await etcdctl(s.endpoint, ['compaction', '150'])).code, 0);
  const latest = await rpcHash(s.endpoint);
  const at180 = await rpcHash(s.endpoint, 180);
  const keys = (await etcdctl(s.endpoint, ['get', '', '--prefix', '-w', 'json'])).stdout;

  for (const args of [
    ['hashkv', '--data-dir', s.dataDir],
    ['defrag', '--data-dir', s.dataDir],
  ]) {
    const busy = util(args);
    assert.equal(busy.code, 1, args.join(' '));
    assert.match(busy.stderr, /^Error: .*in use by a running member \(pid \d+\): stop it first.*\n$/);
  }

  await s.stop();
  const h = util(['hashkv', '--data-dir', s.dataDir]);
  assert.equal(h.code, 0, h.stderr);
  assert.equal(h.stdout, `${latest.hash}, 201, ${latest.compact}\n`);
  const h180 = util(['hashkv', '--data-dir', s.dataDir, '--rev', '180', '-w', 'json']);
  assert.deepEqual(JSON.parse(h180.stdout), {
    hash: at180.hash,
    hashRevision: 180,
    compactRevision: at180.compact,
  });

  const d = util(['defrag', '--data-dir', s.dataDir]);
  assert.equal(d.code, 0, d.stderr);
  const res = JSON.parse(d.stderr) as { 'size-before': number; 'size-after': number };
  assert.ok(res['size-after'] <= res['size-before'], d.stderr);
  assert.equal(util(['hashkv', '--data-dir', s.dataDir]).stdout, h.stdout, 'the same data after defrag');

  s = await s.restart();
  servers.push(s);
  const after = JSON.parse((await etcdctl(s.endpoint, ['get', '', '--prefix', '-w', 'json'])).stdout) as {
    kvs: unknown;
  };
  assert.deepEqual(after.kvs, (JSON.parse(keys) as { kvs: unknown }).kvs);
});

test('tetcdutl --help lists its commands; a data dir that is not tetcd’s is named in one line', () => {
  const help = util(['--help']);
  assert.equal(help.code, 0);
  for (const c of ['snapshot', 'migrate', 'hashkv', 'defrag'])
    assert.match(help.stdout, new RegExp(`\\n  ${c}\\b`));
  const none = util(['hashkv', '--data-dir', '/nonexistent-dir']);
  assert.equal(none.code, 1);
  assert.equal(
    none.stderr,
    'Error: "/nonexistent-dir" is not a tetcd data directory (no /nonexistent-dir/member/db/data.mdb)\n',
  );
});
