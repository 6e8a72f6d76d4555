import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { compare } from '@node-rs/bcrypt';
import { Backend } from '../backend/backend.ts';
import { AuthStore, decodeRole, decodeUser, encodeRole, encodeUser, hashPassword } from './store.ts';
import { SimpleTokens } from './token.ts';
import * as E from './errors.ts';
import { PermType } from './range_perm_cache.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const silent = pino({ level: 'silent' });

function open(dir = mkdtempSync(join(tmpdir(), 'tetcd-auth-'))) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const backend = Backend.open(dir);
  let now = 0;
  const tokens = new SimpleTokens({
    log: silent,
    ttlMs: 300_000,
    now: () => now,
    waitApplied: () => undefined,
  });
  const store = new AuthStore(backend, { log: silent, tokens, bcryptCost: 4 });
  return { dir, backend, store, tokens, advance: (ms: number) => (now += ms) };
}

const b = (s: string) => Buffer.from(s);
const perm = (permType: number, key: string, rangeEnd = '') => ({
  permType,
  key: b(key),
  rangeEnd: b(rangeEnd),
});

test('a new store starts at auth revision 1, written as 8 bytes big-endian under authRevision', () => {
  const { store, backend } = open();
  assert.equal(store.revision(), 1);
  assert.deepEqual(backend.get('auth', b('authRevision')), Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]));
  assert.equal(store.enabled, false);
});

test("users and roles are encoded as etcd's gogo marshals authpb (zero values left out)", () => {
  // etcd 3.4's bytes for User{Name:"alice", Password:"h", Roles:["a","b"], Options:{}}.
  const u = { name: 'alice', password: b('h'), roles: ['a', 'b'], options: { noPassword: false } };
  assert.equal(encodeUser(u).toString('hex'), '0a05616c6963651201681a01611a01622200');
  assert.deepEqual(decodeUser(encodeUser(u)), u);
  const nopw = { name: 'n', password: Buffer.alloc(0), roles: [], options: { noPassword: true } };
  assert.equal(encodeUser(nopw).toString('hex'), '0a016e22020801');
  // etcd 3.4's bytes (read from its snapshot) for role r after `grant-permission r read k` and
  // `grant-permission r readwrite a c`: sorted by key, READ (0) left out.
  const r = { name: 'r', perms: [perm(PermType.READWRITE, 'a', 'c'), perm(PermType.READ, 'k')] };
  assert.equal(encodeRole(r).toString('hex'), '0a0172120808021201611a0163120312016b');
  assert.deepEqual(decodeRole(encodeRole(r)), r);
});

test("auth enable needs user root with role root (etcd's errors); enabling twice is a no-op", async () => {
  const { store } = open();
  assert.throws(() => store.authEnable(), E.ErrRootUserNotExist);
  store.userAdd('root', await hashPassword('pw', 4), undefined);
  assert.throws(() => store.authEnable(), E.ErrRootRoleNotExist);
  store.userGrantRole('root', 'root');
  const rev = store.revision();
  store.authEnable();
  assert.equal(store.enabled, true);
  assert.equal(store.revision(), rev, 'enable does not move the revision (as etcd)');
  store.authEnable();
  store.authDisable();
  assert.equal(store.revision(), rev + 1, 'disable does');
});

test('user and role CRUD with etcd errors, roles kept sorted, revision bumped per change', () => {
  const { store } = open();
  assert.throws(() => store.userAdd('', Buffer.alloc(0), undefined), E.ErrUserEmpty);
  store.userAdd('bob', b('x'), undefined);
  assert.throws(() => store.userAdd('bob', b('x'), undefined), E.ErrUserAlreadyExist);
  assert.throws(() => store.roleAdd(''), E.ErrRoleEmpty);
  const r0 = store.revision();
  store.roleAdd('zeta');
  store.roleAdd('alpha');
  assert.equal(store.revision(), r0 + 2);
  assert.throws(() => store.roleAdd('alpha'), E.ErrRoleAlreadyExist);
  assert.throws(() => store.userGrantRole('nobody', 'alpha'), E.ErrUserNotFound);
  assert.throws(() => store.userGrantRole('bob', 'nope'), E.ErrRoleNotFound);
  store.userGrantRole('bob', 'zeta');
  store.userGrantRole('bob', 'alpha');
  const r1 = store.revision();
  store.userGrantRole('bob', 'alpha');
  assert.equal(store.revision(), r1, 'a role granted twice changes nothing');
  assert.deepEqual(store.userGet('bob'), ['alpha', 'zeta']);
  assert.throws(() => store.userRevokeRole('bob', 'nope'), E.ErrRoleNotGranted);
  store.roleDelete('zeta');
  assert.deepEqual(store.userGet('bob'), ['alpha'], 'deleting a role revokes it from its users');
  assert.deepEqual(store.roleList(), ['alpha']);
  assert.deepEqual(store.userList(), ['bob']);
  assert.throws(() => store.roleGet('zeta'), E.ErrRoleNotFound);
  store.userDelete('bob');
  assert.throws(() => store.userGet('bob'), E.ErrUserNotFound);
  assert.throws(() => store.userDelete('bob'), E.ErrUserNotFound);
});

test('permissions: same key and range end replaces the type, others are added sorted by key', () => {
  const { store } = open();
  store.roleAdd('r');
  store.roleGrantPermission('r', perm(PermType.READ, 'm'));
  store.roleGrantPermission('r', perm(PermType.WRITE, 'a', 'c'));
  store.roleGrantPermission('r', perm(PermType.READWRITE, 'm'));
  assert.deepEqual(store.roleGet('r'), [perm(PermType.WRITE, 'a', 'c'), perm(PermType.READWRITE, 'm')]);
  assert.throws(() => store.roleRevokePermission('r', b('a'), b('b')), E.ErrPermissionNotGranted);
  store.roleRevokePermission('r', b('a'), b('c'));
  assert.deepEqual(store.roleGet('r'), [perm(PermType.READWRITE, 'm')]);
});

test('with auth enabled: root rules, permission checks through the cache, and the stale-revision check', async () => {
  const { store } = open();
  store.userAdd('root', await hashPassword('rootpw', 4), undefined);
  store.userGrantRole('root', 'root');
  store.userAdd('alice', await hashPassword('apw', 4), undefined);
  store.roleAdd('rw');
  store.roleGrantPermission('rw', perm(PermType.READWRITE, 'p/', 'p0'));
  store.userGrantRole('alice', 'rw');
  store.authEnable();
  assert.throws(() => store.userDelete('root'), E.ErrInvalidAuthMgmt);
  assert.throws(() => store.userRevokeRole('root', 'root'), E.ErrInvalidAuthMgmt);
  assert.throws(() => store.roleDelete('root'), E.ErrInvalidAuthMgmt);
  const rev = store.revision();
  const alice = { username: 'alice', revision: rev };
  store.isPutPermitted(alice, b('p/x'));
  store.isRangePermitted(alice, b('p/'), b('p0'));
  assert.throws(() => store.isPutPermitted(alice, b('q')), E.ErrPermissionDenied);
  assert.throws(() => store.isRangePermitted(alice, b('p/'), b('\0')), E.ErrPermissionDenied);
  assert.throws(() => store.isPutPermitted(undefined, b('p/x')), E.ErrUserEmpty);
  assert.throws(
    () => store.isPutPermitted({ username: 'ghost', revision: rev }, b('p/x')),
    E.ErrPermissionDenied,
  );
  store.isPutPermitted({ username: 'root', revision: rev }, b('anything'));
  assert.throws(() => store.isAdminPermitted(alice), E.ErrPermissionDenied);
  assert.throws(() => store.isAdminPermitted({ username: 'ghost', revision: rev }), E.ErrUserNotFound);
  store.isAdminPermitted({ username: 'root', revision: rev });
  // A change moves the revision: a caller checked at the old one is told to retry, and the cache
  // already holds the new permissions.
  store.roleRevokePermission('rw', b('p/'), b('p0'));
  assert.throws(() => store.isPutPermitted(alice, b('p/x')), E.ErrAuthOldRevision);
  assert.throws(
    () => store.isPutPermitted({ username: 'alice', revision: store.revision() }, b('p/x')),
    E.ErrPermissionDenied,
  );
});

test('passwords: bcrypt $2a$ hashes Go reads, checked off the event loop; no-password users cannot log in', async () => {
  const { store } = open();
  const h = await hashPassword('secret', 4);
  assert.match(h.toString('latin1'), /^\$2a\$04\$.{53}$/);
  assert.equal(await compare('secret', h.toString('latin1')), true);
  // A hash etcd 3.4 stored (Go's bcrypt, --bcrypt-cost 4, read from its snapshot) is accepted.
  assert.equal(await compare('pw', '$2a$04$sGXHGHVxvGDfBXA.NUSTfuEif9wG4PoK/kMftpPyjMbZWVJolULsi'), true);
  assert.equal(await compare('px', '$2a$04$sGXHGHVxvGDfBXA.NUSTfuEif9wG4PoK/kMftpPyjMbZWVJolULsi'), false);
  store.userAdd('root', h, undefined);
  store.userGrantRole('root', 'root');
  store.userAdd('svc', Buffer.alloc(0), { noPassword: true });
  await assert.rejects(store.checkPassword('root', 'secret'), E.ErrAuthNotEnabled);
  store.authEnable();
  assert.equal(await store.checkPassword('root', 'secret'), store.revision());
  await assert.rejects(store.checkPassword('root', 'wrong'), E.ErrAuthFailed);
  await assert.rejects(store.checkPassword('nobody', 'x'), E.ErrAuthFailed);
  await assert.rejects(store.checkPassword('svc', 'x'), E.ErrNoPasswordUser);
  assert.throws(() => store.checkAuthenticate('svc'), E.ErrAuthFailed);
});

test('everything survives a reopen of the backend (and a reload after a snapshot)', async () => {
  const s1 = open();
  s1.store.userAdd('root', await hashPassword('pw', 4), undefined);
  s1.store.userGrantRole('root', 'root');
  s1.store.roleAdd('r');
  s1.store.roleGrantPermission('r', perm(PermType.READ, 'k'));
  s1.store.authEnable();
  const rev = s1.store.revision();
  await s1.backend.close();
  const s2 = open(s1.dir);
  assert.equal(s2.store.enabled, true);
  assert.equal(s2.store.revision(), rev);
  assert.deepEqual(s2.store.userGet('root'), ['root']);
  assert.deepEqual(s2.store.roleGet('r'), [perm(PermType.READ, 'k')]);
  await s2.backend.commit();
  s2.store.reload();
  assert.equal(s2.store.revision(), rev);
  await s2.backend.close();
});

test('simple tokens: named prefix.index, renewed on use, gone after the TTL, on password change and on disable', () => {
  const { store, tokens, advance } = open();
  tokens.enable();
  const t = tokens.assign('alice', 5, 42, 'abcdefghijklmnop');
  assert.equal(t, 'abcdefghijklmnop.42');
  assert.deepEqual(tokens.info(t, 7), { username: 'alice', revision: 7 });
  assert.equal(tokens.info('nodot', 1), undefined);
  assert.equal(tokens.info('x.y', 1), undefined);
  advance(299_000);
  assert.ok(tokens.info(t, 7), 'used within the TTL: renewed');
  advance(299_000);
  assert.ok(tokens.info(t, 7));
  advance(300_001);
  assert.equal(tokens.info(t, 7), undefined, 'expired');
  const t2 = tokens.assign('alice', 5, 43, 'bbbbbbbbbbbbbbbb');
  tokens.invalidateUser('alice');
  assert.equal(tokens.info(t2, 7), undefined);
  const t3 = tokens.assign('bob', 5, 44, 'cccccccccccccccc');
  tokens.disable();
  assert.equal(tokens.info(t3, 7), undefined);
  assert.equal(tokens.genTokenPrefix().length, 16);
  assert.match(tokens.genTokenPrefix(), /^[a-zA-Z]{16}$/);
  void store;
});

test('a simple token named after an index this member has not applied waits for it', async () => {
  let resolve!: (ok: boolean) => void;
  const tokens = new SimpleTokens({
    log: silent,
    ttlMs: 0,
    now: () => 0,
    waitApplied: (i) => (i > 10 ? new Promise<boolean>((r) => (resolve = r)) : undefined),
  });
  tokens.enable();
  const pending = tokens.info('aaaaaaaaaaaaaaaa.11', 3);
  assert.ok(pending instanceof Promise);
  tokens.assign('carol', 3, 11, 'aaaaaaaaaaaaaaaa');
  resolve(true);
  assert.deepEqual(await pending, { username: 'carol', revision: 3 });
  const never = tokens.info('bbbbbbbbbbbbbbbb.12', 3);
  resolve(false);
  assert.equal(await never, undefined);
  tokens.disable();
});
