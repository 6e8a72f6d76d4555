// Auth on a 3-member tetcd cluster, through etcdctl 3.4: users and roles, auth enable, an allowed and a
// denied put, a token issued by one member accepted by another, users and permissions kept across a
// restart, and carried by a raft snapshot to a member added after the log was compacted.
// (The differential session and permission matrix against etcd 3.4 are test/auth_session and
// test/auth_matrix.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Member, newMember, TestCluster } from './helpers/cluster.ts';
import { etcdctl, haveEtcd } from './helpers/procs.ts';
import { Client } from './helpers/client.ts';

const ROOT = ['--user', 'root:rootpw'];
const ALICE = ['--user', 'alice:alicepw'];

async function ok(ep: string, args: string[]): Promise<string> {
  const r = await etcdctl(ep, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function refused(ep: string, args: string[], msg: RegExp): Promise<void> {
  const r = await etcdctl(ep, args);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(' ')} should fail`);
  assert.match(r.stderr, msg);
}

describe(
  'auth on a 3-member cluster',
  { timeout: 90_000, skip: !haveEtcd() && 'etcdctl is not installed' },
  () => {
    let c: TestCluster;
    before(async () => {
      c = await TestCluster.start(3, {
        extraArgs: ['--snapshot-count', '40', '--snapshot-catchup-entries', '5', '--bcrypt-cost', '4'],
      });
      await c.waitLeader(15_000);
    });
    after(async () => {
      await c?.close();
    });

    const ep = (m: Member) => m.endpoint;

    test('users, roles, auth enable; a put inside the permission is allowed and one outside denied', async () => {
      const e = ep(c.members[0]!);
      await ok(e, ['user', 'add', 'root:rootpw']);
      await ok(e, ['user', 'grant-role', 'root', 'root']);
      await ok(e, ['user', 'add', 'alice:alicepw']);
      await ok(e, ['role', 'add', 'app']);
      await ok(e, ['role', 'grant-permission', 'app', 'readwrite', 'app/', '--prefix']);
      await ok(e, ['user', 'grant-role', 'alice', 'app']);
      assert.match(await ok(e, ['auth', 'enable']), /Authentication Enabled/);

      await refused(e, ['put', 'app/x', '1'], /user name is empty/);
      assert.match(await ok(e, [...ALICE, 'put', 'app/x', '1']), /OK/);
      await refused(e, [...ALICE, 'put', 'other', '1'], /etcdserver: permission denied/);
      await refused(e, [...ALICE, 'user', 'list'], /etcdserver: permission denied/);
      await refused(
        e,
        ['--user', 'alice:wrong', 'get', 'app/x'],
        /authentication failed, invalid user ID or password/,
      );
      assert.match(await ok(e, [...ROOT, 'get', 'other', '--print-value-only']), /^$/);
      assert.equal(await ok(e, [...ALICE, 'get', 'app/x', '--print-value-only']), '1\n');
    });

    test('a token issued by one member works on every other member', async () => {
      const [m1, m2, m3] = c.members as [Member, Member, Member];
      const cl1 = new Client(m1.endpoint);
      let token: string;
      try {
        const r = await cl1.call('etcdserverpb.Auth', 'Authenticate', { name: 'alice', password: 'alicepw' });
        token = String(r['token']);
      } finally {
        cl1.close();
      }
      assert.match(token, /^[a-zA-Z]{16}\.\d+$/, 'a simple token: 16 letters and the index');
      for (const m of [m2, m3]) {
        const g = await fetch(`${m.clientUrl}/v3/kv/put`, {
          method: 'POST',
          headers: { Authorization: token },
          body: JSON.stringify({ key: Buffer.from(`app/${m.name}`).toString('base64'), value: 'dg==' }),
        });
        assert.equal(g.status, 200, `${m.name}: ${await g.text()}`);
        const denied = await fetch(`${m.clientUrl}/v3/kv/put`, {
          method: 'POST',
          headers: { Authorization: token },
          body: JSON.stringify({ key: Buffer.from('nope').toString('base64'), value: 'dg==' }),
        });
        assert.equal(denied.status, 403);
        const bad = await fetch(`${m.clientUrl}/v3/kv/range`, {
          method: 'POST',
          headers: { Authorization: 'notAToken.1' },
          body: JSON.stringify({ key: 'YQ==' }),
        });
        assert.equal(bad.status, 401);
        assert.match(await bad.text(), /etcdserver: invalid auth token/);
      }
    });

    test("an expired lease's keys are deleted with auth enabled (the leader revokes it as root)", async () => {
      const e = ep(c.members[0]!);
      const grant = await ok(e, [...ALICE, 'lease', 'grant', '2']);
      const id = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
      await ok(e, [...ALICE, 'put', 'app/leased', 'v', `--lease=${id}`]);
      const end = Date.now() + 15_000;
      for (;;) {
        const r = await ok(e, [...ALICE, 'get', 'app/leased', '--print-value-only']);
        if (r === '') break;
        assert.ok(Date.now() < end, 'the leased key is still there 15 s after a 2 s lease');
        await new Promise((res) => setTimeout(res, 250));
      }
    });

    test('a restarted member keeps users, roles and auth enabled', async () => {
      const m = c.members[1]!;
      await c.stop(m);
      await c.restart(m);
      await c.waitLeader(15_000);
      assert.match(await ok(ep(m), [...ROOT, 'user', 'list']), /alice\nroot/);
      assert.match(await ok(ep(m), [...ROOT, 'role', 'get', 'app']), /\[app\/, app0\) \(prefix app\/\)/);
      await refused(ep(m), ['get', 'app/x'], /user name is empty/);
      assert.equal(await ok(ep(m), [...ALICE, 'get', 'app/x', '--print-value-only']), '1\n');
    });

    test('a member added after the log was compacted gets users and roles in the snapshot', async () => {
      const leader = await c.waitLeader(15_000);
      for (let i = 0; i < 60; i++) await ok(ep(leader), [...ALICE, 'put', `app/k${i}`, String(i)]);
      const m4 = await newMember('m4');
      await ok(ep(leader), [...ROOT, 'member', 'add', 'm4', `--peer-urls=${m4.peerUrl}`]);
      c.members.push(m4);
      await c.launch(m4, ['--initial-cluster-state', 'existing']);
      const end = Date.now() + 20_000;
      for (;;) {
        const r = await etcdctl(ep(m4), [
          ...ALICE,
          'get',
          'app/k59',
          '--print-value-only',
          '--consistency=s',
        ]);
        if (r.code === 0 && r.stdout === '59\n') break;
        assert.ok(Date.now() < end, `m4 did not catch up: ${r.stderr}\n${m4.stderr().slice(-2000)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.match(m4.stderr(), /received snapshot/);
      assert.match(await ok(ep(m4), [...ROOT, 'user', 'get', 'alice']), /Roles: app/);
      await refused(ep(m4), [...ALICE, 'put', 'other', '1'], /etcdserver: permission denied/);
    });

    test('a learner promoted through a follower: the forwarded call carries the token, the leader checks root', async () => {
      const leader = await c.waitLeader(15_000);
      const follower = c.members.find((m) => m !== leader && m.proc)!;
      const m5 = await newMember('m5');
      const added = await ok(ep(leader), [
        ...ROOT,
        'member',
        'add',
        'm5',
        `--peer-urls=${m5.peerUrl}`,
        '--learner',
      ]);
      const id = /Member +([0-9a-f]+) added/.exec(added)![1]!;
      c.members.push(m5);
      await c.launch(m5, ['--initial-cluster-state', 'existing']);
      await refused(ep(follower), [...ALICE, 'member', 'promote', id], /etcdserver: permission denied/);
      const end = Date.now() + 20_000;
      for (;;) {
        const r = await etcdctl(ep(follower), [...ROOT, 'member', 'promote', id]);
        if (r.code === 0) break;
        // Until the learner has caught up the leader says it is not ready; never an auth error.
        assert.doesNotMatch(r.stderr, /user name is empty|permission denied|invalid auth token/);
        assert.ok(Date.now() < end, `promote kept failing: ${r.stderr}`);
        await new Promise((res) => setTimeout(res, 300));
      }
      assert.doesNotMatch(await ok(ep(leader), [...ROOT, 'member', 'list']), /true$/m, 'no learner left');
    });
  },
);
