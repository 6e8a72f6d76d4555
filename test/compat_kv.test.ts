// The same etcdctl 3.4 session against tetcd and against etcd 3.4 must print the same thing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

/** `fails` marks steps where etcd itself answers with an error (so a pass is never vacuous). */
const SESSION: { args: string[]; input?: string; fails?: true }[] = [
  { args: ['put', 'a', '1'] },
  { args: ['put', 'b', '2'] },
  { args: ['put', 'c', '3'] },
  { args: ['put', 'a', '11'] },
  { args: ['put', 'foo/x', 'x'] },
  { args: ['put', 'foo/y', 'yy'] },
  { args: ['put', 'foo/z', 'z'] },
  { args: ['put', 'foo/y', 'a', '--prev-kv'] },
  { args: ['get', 'a'] },
  { args: ['get', 'a', '-w', 'json'] },
  { args: ['get', 'nope', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo/'] },
  { args: ['get', '--prefix', 'foo/', '--limit', '2', '-w', 'json'] },
  { args: ['get', 'b', '--from-key'] },
  { args: ['get', 'a', '--from-key', '--keys-only'] },
  { args: ['get', '--prefix', 'foo/', '--order', 'DESCEND'] },
  { args: ['get', '--prefix', 'foo/', '--order', 'ASCEND', '--sort-by', 'VALUE'] },
  { args: ['get', '--prefix', 'foo/', '--order', 'DESCEND', '--sort-by', 'VALUE'] },
  { args: ['get', '--prefix', 'foo/', '--order', 'DESCEND', '--sort-by', 'VERSION'] },
  { args: ['get', '--prefix', 'foo/', '--sort-by', 'CREATE', '--order', 'DESCEND'] },
  { args: ['get', '--prefix', 'foo/', '--sort-by', 'MODIFY', '--order', 'ASCEND', '-w', 'json'] },
  { args: ['get', '--prefix', 'foo/', '--print-value-only'] },
  { args: ['get', 'a', '--rev', '2'] },
  { args: ['get', 'a', '--rev', '2', '-w', 'json'] },
  { args: ['get', '', '--prefix', '--keys-only', '--limit', '3'] },
  { args: ['del', '--prefix', 'foo/', '--prev-kv'] },
  { args: ['del', 'nothing-here'] },
  { args: ['del', 'b', '-w', 'json'] },
  {
    args: ['txn', '-w', 'json'],
    input: 'value("a") = "11"\nversion("c") > "0"\n\nput t1 one\nget a\ndel c\n\nput t2 two\n\n',
  },
  { args: ['txn'], input: 'value("a") = "nope"\n\nput t3 x\n\nput t4 y\nget t4\n\n' },
  { args: ['txn', '-w', 'json'], input: 'create("zz") = "0"\nmod("a") < "100"\n\nput zz 1\n\n\n' },
  { args: ['txn'], input: 'create("a") > "100"\n\nput t5 x\n\nget a\n\n' },
  {
    args: ['txn', '-w', 'json'],
    input: 'value("t1") != "x"\n\ndel t --prefix --prev-kv\nget t --prefix --keys-only\n\n\n',
  },
  { args: ['txn'], input: '\nput d1 1\nput d1 2\n\n\n', fails: true },
  { args: ['get', '', '--prefix', '-w', 'json'] },
  { args: ['compaction', '5'] },
  { args: ['get', 'a', '--rev', '4'], fails: true },
  { args: ['get', 'a', '--rev', '5', '-w', 'json'] },
  { args: ['get', 'a', '--rev', '1000'], fails: true },
  { args: ['compaction', '3'], fails: true },
  { args: ['put', '', 'x'], fails: true },
  { args: ['get', 't', '--prefix', '--sort-by', 'KEY', '--order', 'DESCEND', '--limit', '2'] },
];

/** Only what legitimately differs between two servers: their IDs and raft terms, and client log noise. */
function normalise(s: string): string {
  return s
    .split('\n')
    .filter((l) => !l.startsWith('{"level":'))
    .join('\n')
    .replace(/"cluster_id":\d+/g, '"cluster_id":X')
    .replace(/"member_id":\d+/g, '"member_id":X')
    .replace(/"raft_term":\d+/g, '"raft_term":X');
}

describe('etcdctl 3.4 session: tetcd prints what etcd 3.4 prints', { skip: !haveEtcd() }, () => {
  let tetcd: ServerHandle;
  let etcd: ServerHandle;
  before(async () => {
    [tetcd, etcd] = await Promise.all([startServer('tetcd'), startServer('etcd')]);
  });
  after(async () => {
    await Promise.all([tetcd?.destroy(), etcd?.destroy()]);
  });

  test('every command prints the same output and exit code', async () => {
    for (const step of SESSION) {
      const want = await etcdctl(etcd.endpoint, step.args, step.input);
      const got = await etcdctl(tetcd.endpoint, step.args, step.input);
      const what = `etcdctl ${step.args.join(' ')}`;
      assert.equal(want.code !== 0, step.fails === true, `${what}: etcd exit ${want.code} ${want.stderr}`);
      assert.equal(normalise(got.stdout), normalise(want.stdout), `${what}: stdout`);
      assert.equal(normalise(got.stderr), normalise(want.stderr), `${what}: stderr`);
      assert.equal(got.code, want.code, `${what}: exit code`);
    }
  });
});
