// The same etcdctl 3.4 auth session against a tetcd and an etcd 3.4 single member: users and roles
// (passwords given by flag and on stdin), permissions on a key, a range, a prefix and --from-key, read /
// write / readwrite, auth enable, allowed and denied put/get/del/txn as different users, a wrong
// password, no credentials, admin commands as a user that is not root, user/role get and list output,
// revoke-permission, revoke-role, user passwd (the old password refused), user delete (its token no
// longer works: checked with a raw gRPC call), auth disable, and everything open again. The whole
// transcript (command, exit code, stdout, stderr), masked, must be the same line by line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { mask } from './helpers/transcript.ts';
import { AuthGrpc, outcomeText } from './helpers/auth_grpc.ts';
import { recordDiffs } from './helpers/auth_diffs.ts';

const ROOT = ['--user', 'root:rootpw'];
const ALICE = ['--user', 'alice:alicepw'];
const BOB = ['--user', 'bob:bobpw'];

interface Step {
  args: string[];
  input?: string;
}

const s = (args: string[], input?: string): Step => (input === undefined ? { args } : { args, input });

/** The session, in order. Keys: k1 (alice reads), [a, c) (bob writes), p/ (alice readwrite), z.. (bob reads). */
const SESSION: Step[] = [
  s(['auth', 'enable']), // no root user yet: refused
  s(['user', 'add', 'root', '--new-user-password=rootpw']),
  s(['user', 'add', 'alice', '--new-user-password=alicepw']),
  s(['user', 'add', 'bob', '--interactive=false'], 'bobpw\n'),
  s(['user', 'add', 'bob', '--new-user-password=x']), // already exists
  s(['user', 'add', 'carol:carolpw']),
  s(['role', 'add', 'keyreader']),
  s(['role', 'add', 'keyreader']), // already exists
  s(['role', 'grant-permission', 'keyreader', 'read', 'k1']),
  s(['role', 'add', 'rangewriter']),
  s(['role', 'grant-permission', 'rangewriter', 'write', 'a', 'c']),
  s(['role', 'add', 'prefixrw']),
  s(['role', 'grant-permission', 'prefixrw', 'readwrite', 'p/', '--prefix']),
  s(['role', 'add', 'fromkey']),
  s(['role', 'grant-permission', 'fromkey', 'read', 'z', '--from-key']),
  s(['role', 'grant-permission', 'fromkey', 'bogus', 'z']), // bad permission type
  s(['user', 'grant-role', 'alice', 'keyreader']),
  s(['user', 'grant-role', 'alice', 'prefixrw']),
  s(['user', 'grant-role', 'bob', 'rangewriter']),
  s(['user', 'grant-role', 'bob', 'fromkey']),
  s(['user', 'grant-role', 'bob', 'nosuchrole']),
  s(['user', 'grant-role', 'nosuchuser', 'fromkey']),
  s(['role', 'get', 'keyreader']),
  s(['role', 'get', 'rangewriter']),
  s(['role', 'get', 'prefixrw']),
  s(['role', 'get', 'fromkey']),
  s(['role', 'get', 'nosuchrole']),
  s(['user', 'get', 'alice']),
  s(['user', 'get', 'alice', '--detail']),
  s(['user', 'get', 'nosuchuser']),
  s(['user', 'list']),
  s(['role', 'list']),
  s(['put', 'k1', 'v1']),
  s(['put', 'b1', 'vb']),
  s(['put', 'p/one', 'vp']),
  s(['put', 'z1', 'vz']),
  s(['put', 'other', 'vo']),
  // root has no root role: etcdctl's auth enable adds it and grants it on etcd's "root user does not
  // have root role", then enables
  s(['auth', 'enable']),
  s(['user', 'get', 'root', ...ROOT]),
  s(['auth', 'enable', ...ROOT]), // already enabled
  s(['get', 'k1', '--user', 'alice'], 'alicepw\n'), // the password prompted for, on stdin
  // no credentials
  s(['get', 'k1']),
  s(['put', 'k1', 'x']),
  s(['user', 'list']),
  // wrong password, unknown user
  s(['get', 'k1', '--user', 'alice:wrong']),
  s(['get', 'k1', '--user', 'nobody:x']),
  // alice: read k1, readwrite p/
  s(['get', 'k1', ...ALICE]),
  s(['put', 'k1', 'x', ...ALICE]),
  s(['get', 'k1', 'k2', ...ALICE]),
  s(['del', 'k1', ...ALICE]),
  s(['put', 'p/two', 'v2', ...ALICE]),
  s(['get', 'p/', '--prefix', ...ALICE]),
  s(['get', 'p', '--prefix', ...ALICE]),
  s(['del', 'p/two', ...ALICE]),
  s(['get', 'other', ...ALICE]),
  s(['get', 'b1', ...ALICE]),
  // bob: write [a, c), read from z
  s(['put', 'b2', 'x', ...BOB]),
  s(['put', 'a', 'x', ...BOB]),
  s(['put', 'c', 'x', ...BOB]),
  s(['get', 'b1', ...BOB]),
  s(['del', 'b2', ...BOB]),
  s(['del', 'a', 'c', ...BOB]),
  s(['del', 'a', 'd', ...BOB]),
  s(['get', 'z1', ...BOB]),
  s(['get', 'z', '--from-key', ...BOB]),
  s(['get', 'y', '--from-key', ...BOB]),
  s(['put', 'z2', 'x', ...BOB]),
  // txn: compares and ops are checked
  s(['txn', ...ALICE], 'value("k1") = "v1"\n\nput p/t yes\n\nput p/t no\n\n'),
  s(['txn', ...ALICE], 'value("k1") = "v1"\n\nput k1 no\n\n\n'),
  s(['txn', ...ALICE], 'value("other") = "vo"\n\nget p/t\n\n\n'),
  s(['txn', ...ALICE], '\nget p/t\n\nput b1 x\n\n'),
  s(['txn', ...BOB], 'value("z1") = "vz"\n\nput b3 t\n\nput b3 f\n\n'),
  s(['txn', ...BOB], 'value("b1") = "vb"\n\nput b3 t\n\n\n'),
  s(['txn', ...ROOT], 'value("k1") = "v1"\n\nget k1\n\n\n'),
  // admin commands as a user that is not root
  s(['user', 'add', 'dave', '--new-user-password=d', ...ALICE]),
  s(['user', 'list', ...ALICE]),
  s(['role', 'list', ...ALICE]),
  s(['user', 'get', 'bob', ...ALICE]),
  s(['user', 'get', 'alice', ...ALICE]),
  s(['role', 'get', 'prefixrw', ...ALICE]),
  s(['role', 'get', 'rangewriter', ...ALICE]),
  s(['role', 'add', 'x', ...ALICE]),
  s(['user', 'grant-role', 'alice', 'rangewriter', ...ALICE]),
  s(['auth', 'disable', ...ALICE]),
  s(['compaction', '1', ...ALICE]),
  s(['member', 'list', ...ALICE]),
  s(['alarm', 'list', ...ALICE]),
  // root
  s(['user', 'list', ...ROOT]),
  s(['role', 'list', ...ROOT]),
  s(['user', 'get', 'bob', ...ROOT]),
  s(['get', '', '--from-key', ...ROOT]),
  // revoke-permission, revoke-role
  s(['role', 'revoke-permission', 'prefixrw', 'p/', '--prefix', ...ROOT]),
  s(['role', 'revoke-permission', 'prefixrw', 'p/', '--prefix', ...ROOT]), // not granted any more
  s(['put', 'p/three', 'x', ...ALICE]),
  s(['role', 'get', 'prefixrw', ...ROOT]),
  s(['role', 'revoke-permission', 'rangewriter', 'a', 'c', ...ROOT]),
  s(['put', 'b2', 'x', ...BOB]),
  s(['user', 'revoke-role', 'alice', 'keyreader', ...ROOT]),
  s(['user', 'revoke-role', 'alice', 'keyreader', ...ROOT]), // not granted any more
  s(['get', 'k1', ...ALICE]),
  s(['user', 'get', 'alice', ...ROOT]),
  // passwd: the old password is refused, the new one works
  s(['user', 'grant-role', 'alice', 'keyreader', ...ROOT]),
  s(['user', 'passwd', 'alice', '--interactive=false', ...ROOT], 'newalicepw\n'),
  s(['get', 'k1', ...ALICE]),
  s(['get', 'k1', '--user', 'alice:newalicepw']),
  // delete
  s(['role', 'delete', 'fromkey', ...ROOT]),
  s(['get', 'z1', ...BOB]),
  s(['user', 'get', 'bob', ...ROOT]),
  s(['user', 'delete', 'bob', ...ROOT]),
  s(['user', 'delete', 'bob', ...ROOT]),
  s(['get', 'z1', ...BOB]),
  s(['user', 'list', ...ROOT]),
  s(['role', 'list', ...ROOT]),
  s(['user', 'revoke-role', 'root', 'root', ...ROOT]), // root keeps the root role while auth is on
  s(['user', 'delete', 'root', ...ROOT]),
  // disable
  s(['auth', 'disable', ...ROOT]),
  s(['get', 'k1']),
  s(['put', 'k1', 'after']),
  s(['get', 'k1']),
  s(['user', 'list']),
  s(['role', 'get', 'prefixrw']),
  s(['auth', 'disable']),
];

const label = (st: Step) =>
  `etcdctl ${st.args.join(' ')}${st.input !== undefined ? ` <<< ${JSON.stringify(st.input)}` : ''}`;

/** Runs the session; each entry is one step's masked text. */
async function runSession(endpoint: string): Promise<string[]> {
  const out: string[] = [];
  // ~15 s on etcd; a server that hangs every step must not hold the file for SESSION.length x 5 s.
  const until = Date.now() + 120_000;
  for (const st of SESSION) {
    if (Date.now() > until) {
      out.push(`$ ${label(st)}\n(not run: the time budget is spent)`);
      continue;
    }
    const t0 = Date.now();
    const r = await etcdctl(endpoint, st.args, st.input);
    if (process.env['AUTHTESTS_DUMP']) console.log(Date.now() - t0, 'ms', label(st));
    // startServer gives tetcd no peer URL flags: its default peer URL is not the session's business
    const stdout = r.stdout.replace(/http:\/\/localhost:2380/g, 'http://127.0.0.1:2380');
    out.push(`$ ${label(st)}\nexit ${r.code}\n${mask(stdout)}${mask(r.stderr)}`);
  }
  return out;
}

/** A deleted user's token, a changed password's token: the next call with it, as code and message. */
async function tokenAfterChange(endpoint: string): Promise<string[]> {
  const c = await AuthGrpc.connect(endpoint);
  const t: string[] = [];
  try {
    await tokenSteps(c, t);
  } catch (e) {
    t.push(`stopped: ${(e as Error).message}`);
  } finally {
    c.close();
  }
  return t;
}

async function tokenSteps(c: AuthGrpc, t: string[]): Promise<void> {
  {
    const call = async (what: string, svc: string, m: string, req: Record<string, unknown>, tok?: string) =>
      t.push(`${what}: ${outcomeText(await c.call(svc, m, req, tok))}`);
    const kv = 'etcdserverpb.KV';
    const au = 'etcdserverpb.Auth';
    await call('authenticate, auth disabled', au, 'Authenticate', { name: 'root', password: 'rootpw' });
    await call('auth enable', au, 'AuthEnable', {});
    const root = await c.token('root', 'rootpw');
    await call('user add erin', au, 'UserAdd', { name: 'erin', password: 'erinpw' }, root);
    await call('role add erole', au, 'RoleAdd', { name: 'erole' }, root);
    await call(
      'grant',
      au,
      'RoleGrantPermission',
      { name: 'erole', perm: { permType: 2, key: Buffer.from('e') } },
      root,
    );
    await call('grant-role', au, 'UserGrantRole', { user: 'erin', role: 'erole' }, root);
    const e1 = await c.token('erin', 'erinpw');
    await call('erin put e', kv, 'Put', { key: Buffer.from('e'), value: Buffer.from('1') }, e1);
    await call('erin passwd', au, 'UserChangePassword', { name: 'erin', password: 'erinpw2' }, root);
    await call(
      'erin put e, token from before passwd',
      kv,
      'Put',
      { key: Buffer.from('e'), value: Buffer.from('2') },
      e1,
    );
    await call('erin authenticate old password', au, 'Authenticate', { name: 'erin', password: 'erinpw' });
    const e2 = await c.token('erin', 'erinpw2');
    await call('erin put e, new token', kv, 'Put', { key: Buffer.from('e'), value: Buffer.from('3') }, e2);
    await call('erin revoke-role', au, 'UserRevokeRole', { name: 'erin', role: 'erole' }, root);
    await call(
      'erin put e after revoke-role',
      kv,
      'Put',
      { key: Buffer.from('e'), value: Buffer.from('4') },
      e2,
    );
    await call('erin delete', au, 'UserDelete', { name: 'erin' }, root);
    await call('erin range e, token of a deleted user', kv, 'Range', { key: Buffer.from('e') }, e2);
    await call('user add erin again', au, 'UserAdd', { name: 'erin', password: 'erinpw2' }, root);
    await call('erin range e, token from before the delete', kv, 'Range', { key: Buffer.from('e') }, e2);
    await call('auth disable', au, 'AuthDisable', {}, root);
    await call('range e, root token after disable', kv, 'Range', { key: Buffer.from('e') }, root);
    await call('range e, no token', kv, 'Range', { key: Buffer.from('e') });
  }
}

/** The steps whose text differs, each with both sides' lines that differ. */
function differences(e: string[], t: string[]): string[] {
  const diffs: string[] = [];
  for (let i = 0; i < Math.max(e.length, t.length); i++) {
    const a = e[i] ?? '(missing)';
    const b = t[i] ?? '(missing)';
    if (a === b) continue;
    const al = a.split('\n');
    const bl = b.split('\n');
    const cmd = al[0] ?? bl[0] ?? '';
    const lines: string[] = [];
    for (let j = 1; j < Math.max(al.length, bl.length); j++) {
      if (al[j] === bl[j]) continue;
      lines.push(`etcd:  ${al[j] ?? '(none)'} | tetcd: ${bl[j] ?? '(none)'}`);
    }
    diffs.push(`step ${i + 1} \`${cmd.slice(2)}\`: ${lines.join(' ; ')}`);
  }
  return diffs;
}

describe('auth: the same etcdctl 3.4 session against tetcd and etcd 3.4', { skip: !haveEtcd() }, () => {
  let etcd: ServerHandle | undefined;
  let tetcd: ServerHandle | undefined;
  const got = new Map<string, { session: string[]; tokens: string[] }>();

  before(async () => {
    [etcd, tetcd] = await Promise.all([startServer('etcd'), startServer('tetcd')]);
    const run = async (h: ServerHandle) => {
      const session = await runSession(h.endpoint);
      // Auth is disabled at the end of the session: the token steps enable it again.
      const tokens = await tokenAfterChange(h.endpoint);
      got.set(h.kind, { session, tokens });
      const dump = process.env['AUTHTESTS_DUMP'];
      if (dump) writeFileSync(`${dump}/auth_session.${h.kind}.txt`, [...session, ...tokens].join('\n'));
    };
    await Promise.all([run(etcd), run(tetcd)]);
  });

  after(async () => {
    await Promise.all([etcd?.destroy(), tetcd?.destroy()]);
  });

  test('etcd refuses and allows what the session expects (the comparison is not vacuous)', () => {
    const e = got.get('etcd')!.session;
    const at = (args: string) => e.find((x) => x.startsWith(`$ etcdctl ${args}\n`)) ?? `(no step ${args})`;
    assert.match(at('get k1'), /user name is empty/);
    assert.match(at('get k1 --user alice:wrong'), /authentication failed/);
    assert.match(at('put k1 x --user alice:alicepw'), /permission denied/);
    assert.match(at('get k1 --user alice:alicepw'), /^exit 0\nk1\nv1$/m);
    assert.match(at('user list --user alice:alicepw'), /permission denied/);
    assert.match(at('put p/three x --user alice:alicepw'), /permission denied/);
    assert.match(at('get k1 --user alice:newalicepw'), /^exit 0$/m);
    const refused = e.filter((x) => /^exit [^0]/m.test(x)).length;
    assert.ok(refused >= 30, `only ${refused} refusals`);
    assert.ok(e.length - refused >= 50, `only ${e.length - refused} successes`);
  });

  test('the etcdctl session prints the same', () => {
    const e = got.get('etcd')!.session;
    const t = got.get('tetcd')!.session;
    const d = differences(e, t);
    recordDiffs('auth_session etcdctl', d);
    if (d.length > 0) {
      // The whole masked transcripts, for reading a difference in its context.
      console.log(`--- etcd 3.4 transcript ---\n${e.join('\n')}\n--- tetcd transcript ---\n${t.join('\n')}`);
    }
    assert.deepEqual(d, [], `${d.length} of ${e.length} steps differ:\n${d.join('\n')}`);
  });

  test('tokens after passwd, revoke-role, user delete and auth disable: same code and message', () => {
    const e = got.get('etcd')!.tokens;
    const t = got.get('tetcd')!.tokens;
    assert.match(e.join('\n'), /token of a deleted user: 16 etcdserver: invalid auth token/);
    const d = e.flatMap((line, i) => (line === t[i] ? [] : [`etcd: ${line} | tetcd: ${t[i] ?? '(none)'}`]));
    recordDiffs('auth_session tokens', d);
    assert.deepEqual(d, [], d.join('\n'));
  });
});
