import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Backend } from '../../backend/backend.ts';
import { AuthStore, hashPassword } from '../../auth/store.ts';
import { SimpleTokens } from '../../auth/token.ts';
import * as E from '../../auth/errors.ts';
import { Op } from '../raft_request.ts';
import { applyAuth, AuthApplier, type AuthApplyDeps } from './auth_applier.ts';
import type { Applier } from './applier.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });
const b = (s: string) => Buffer.from(s);

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-authapply-'));
  dirs.push(dir);
  const backend = Backend.open(dir);
  const tokens = new SimpleTokens({ log: silent, ttlMs: 0, now: () => 0, waitApplied: () => undefined });
  const store = new AuthStore(backend, { log: silent, tokens, bcryptCost: 4 });
  const recorded: number[] = [];
  const leaseKeys = new Map<bigint, Set<string>>([[5n, new Set(['app/a', 'secret'])]]);
  const deps: AuthApplyDeps = {
    store,
    lessor: () =>
      ({ lookup: (id: bigint) => (leaseKeys.has(id) ? { keys: leaseKeys.get(id)! } : undefined) }) as never,
    noKvChange: () => recorded.push(1),
    rev: () => 17,
  };
  const passed: string[] = [];
  const next = new Proxy({} as Applier, {
    get: (_t, name: string) => () => {
      passed.push(name);
      return { header: { revision: 17 } };
    },
  });
  const layer = new AuthApplier(deps);
  layer.next = next;
  // root (root role), alice (readwrite on [app/, app0)).
  const admin = (op: Op, req: object) => applyAuth(deps, op, req, undefined, 10);
  admin(Op.AuthUserAdd, { name: 'root', hashedPassword: (await hashPassword('pw', 4)).toString('latin1') });
  admin(Op.AuthUserGrantRole, { user: 'root', role: 'root' });
  admin(Op.AuthUserAdd, { name: 'alice', hashedPassword: (await hashPassword('apw', 4)).toString('latin1') });
  admin(Op.AuthRoleAdd, { name: 'app' });
  admin(Op.AuthRoleGrantPermission, {
    name: 'app',
    perm: { permType: 2, key: b('app/'), rangeEnd: b('app0') },
  });
  admin(Op.AuthUserGrantRole, { user: 'alice', role: 'app' });
  admin(Op.AuthEnable, {});
  const as = (username: string) => ({ username, revision: store.revision() });
  return { store, deps, layer, passed, recorded, as, tokens };
}

const put = (key: string, extra: object = {}) =>
  ({
    key: b(key),
    value: b('v'),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
    ...extra,
  }) as never;

test("puts, deletes and lease revokes are checked with the entry's caller before the next layer runs", async () => {
  const { layer, passed, recorded, as } = await setup();
  layer.info = as('alice');
  layer.put(put('app/x'));
  assert.deepEqual(passed, ['put']);
  assert.throws(() => layer.put(put('other')), E.ErrPermissionDenied);
  assert.throws(
    () => layer.put(put('app/x', { lease: 5 })),
    E.ErrPermissionDenied,
    "the lease holds 'secret'",
  );
  assert.throws(() => layer.leaseRevoke({ ID: 5 }), E.ErrPermissionDenied);
  layer.deleteRange({ key: b('app/'), rangeEnd: b('app0'), prevKv: true } as never);
  assert.throws(
    () => layer.deleteRange({ key: b('app/'), rangeEnd: b('\0'), prevKv: false } as never),
    E.ErrPermissionDenied,
  );
  assert.deepEqual(passed, ['put', 'deleteRange']);
  assert.equal(recorded.length - 7, 4, 'each refused entry still records its index');
  layer.info = undefined;
  assert.throws(() => layer.put(put('app/x')), E.ErrUserEmpty);
  layer.info = as('root');
  layer.put(put('secret', { lease: 5 }));
  layer.leaseRevoke({ ID: 5 });
  // Compactions, grants, checkpoints and alarms are not checked (as in etcd 3.4).
  layer.info = as('alice');
  layer.compaction({ revision: 1, physical: false } as never);
  layer.leaseGrant({ TTL: 5, ID: 0 });
  assert.deepEqual(passed.slice(-4), ['put', 'leaseRevoke', 'compaction', 'leaseGrant']);
});

test('a txn checks every compare and every op of both branches, nested txns included', async () => {
  const { layer, passed, as } = await setup();
  layer.info = as('alice');
  const ok = {
    compare: [{ key: b('app/c'), rangeEnd: b('') }],
    success: [{ requestPut: put('app/p') }],
    failure: [],
  };
  layer.txn(ok as never);
  assert.deepEqual(passed, ['txn']);
  const badCompare = { ...ok, compare: [{ key: b('z'), rangeEnd: b('') }] };
  assert.throws(() => layer.txn(badCompare as never), E.ErrPermissionDenied);
  const badFailure = { ...ok, failure: [{ requestRange: { key: b('z'), rangeEnd: b('') } }] };
  assert.throws(() => layer.txn(badFailure as never), E.ErrPermissionDenied);
  const nested = {
    ...ok,
    success: [{ requestTxn: { compare: [], success: [{ requestPut: put('z') }], failure: [] } }],
  };
  assert.throws(() => layer.txn(nested as never), E.ErrPermissionDenied);
  assert.deepEqual(passed, ['txn']);
});

test("a token's revision older than the store's is refused: the client retries with a fresh one", async () => {
  const { layer, deps, as } = await setup();
  layer.info = as('alice');
  applyAuth(deps, Op.AuthRoleAdd, { name: 'other' }, as('root'), 11);
  assert.throws(() => layer.put(put('app/x')), E.ErrAuthOldRevision);
});

test('admin ops need root once auth is enabled; UserGet and RoleGet are open about oneself', async () => {
  const { deps, as } = await setup();
  assert.throws(() => applyAuth(deps, Op.AuthUserList, {}, as('alice'), 12), E.ErrPermissionDenied);
  assert.throws(() => applyAuth(deps, Op.AuthRoleAdd, { name: 'x' }, undefined, 12), E.ErrUserEmpty);
  assert.deepEqual(applyAuth(deps, Op.AuthUserList, {}, as('root'), 12), {
    header: { revision: 17 },
    users: ['alice', 'root'],
  });
  assert.deepEqual(applyAuth(deps, Op.AuthUserGet, { name: 'alice' }, as('alice'), 12), {
    header: { revision: 17 },
    roles: ['app'],
  });
  assert.throws(
    () => applyAuth(deps, Op.AuthUserGet, { name: 'root' }, as('alice'), 12),
    E.ErrPermissionDenied,
  );
  const role = applyAuth(deps, Op.AuthRoleGet, { role: 'app' }, as('alice'), 12) as { perm: unknown[] };
  assert.equal(role.perm.length, 1);
  assert.throws(
    () => applyAuth(deps, Op.AuthRoleGet, { role: 'root' }, as('alice'), 12),
    E.ErrPermissionDenied,
  );
});

test('Authenticate assigns a simple token named after the entry index on every member', async () => {
  const { deps, tokens, store } = await setup();
  const r = applyAuth(
    deps,
    Op.Authenticate,
    { name: 'alice', simpleToken: 'abcdefghijklmnop' },
    undefined,
    33,
  ) as {
    token: string;
  };
  assert.equal(r.token, 'abcdefghijklmnop.33');
  assert.deepEqual(tokens.info(r.token, store.revision()), { username: 'alice', revision: store.revision() });
  assert.throws(
    () => applyAuth(deps, Op.Authenticate, { name: 'ghost', simpleToken: 'bbbbbbbbbbbbbbbb' }, undefined, 34),
    E.ErrAuthFailed,
  );
});
