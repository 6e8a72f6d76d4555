// The auth store (etcd's auth.authStore): users, roles and their permissions, whether auth is enabled
// and the auth revision, in the backend buckets `auth`, `authUsers` and `authRoles` with etcd's keys
// and authpb encodings (gogo's: fields in order, zero values left out), so that a snapshot carries them
// to etcd and back. Changed only by applying log entries (server/apply/auth_applier.ts); its writes
// join the backend batch of the entry. Reads come from memory: the buckets are decoded once at open
// (and again after a snapshot), and each user's merged permissions are kept in a cache rebuilt
// whenever the auth revision moves, so a permission check is a map lookup and a binary search.
// Passwords are bcrypt hashes ($2a$/$2b$, as Go's bcrypt writes and reads them). Hashing and comparing
// run on libuv's thread pool (@node-rs/bcrypt's async functions), never on the event loop; the member
// that receives UserAdd or UserChangePassword hashes before proposing, so the log carries the hash.
import { randomBytes } from 'node:crypto';
import { hash as bcryptHash, compare as bcryptCompare } from '@node-rs/bcrypt';
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import { messageType } from '../proto/index.ts';
import {
  ErrAuthFailed,
  ErrAuthNotEnabled,
  ErrAuthOldRevision,
  ErrInvalidAuthMgmt,
  ErrNoPasswordUser,
  ErrPermissionDenied,
  ErrPermissionNotGranted,
  ErrRoleAlreadyExist,
  ErrRoleEmpty,
  ErrRoleNotFound,
  ErrRoleNotGranted,
  ErrRootRoleNotExist,
  ErrRootUserNotExist,
  ErrUserAlreadyExist,
  ErrUserEmpty,
  ErrUserNotFound,
} from './errors.ts';
import { UnifiedPerms, type Permission } from './range_perm_cache.ts';
import type { AuthInfo, TokenProvider } from './token.ts';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

const ENABLE_FLAG_KEY = Buffer.from('authEnabled');
const REVISION_KEY = Buffer.from('authRevision');
const AUTH_ENABLED = Buffer.from([1]);
const AUTH_DISABLED = Buffer.from([0]);

/** Go's bcrypt bounds and default (etcd's --bcrypt-cost). */
export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;
export const BCRYPT_DEFAULT_COST = 10;

const UserPb = messageType('authpb.User');
const RolePb = messageType('authpb.Role');

export type { AuthInfo } from './token.ts';

export interface User {
  name: string;
  /** The bcrypt hash; empty for a user without password. */
  password: Buffer;
  /** Sorted. */
  roles: string[];
  /** authpb.UserAddOptions, present on every user etcd 3.4 writes (undefined only if read without). */
  options: { noPassword: boolean } | undefined;
}

export interface Role {
  name: string;
  /** Sorted by key. */
  perms: Permission[];
}

export function encodeUser(u: User): Buffer {
  const m: Record<string, unknown> = { name: Buffer.from(u.name, 'utf8') };
  if (u.password.length > 0) m['password'] = u.password;
  if (u.roles.length > 0) m['roles'] = u.roles;
  if (u.options) m['options'] = u.options.noPassword ? { noPassword: true } : {};
  return Buffer.from(UserPb.encode(m).finish());
}

export function decodeUser(b: Uint8Array): User {
  const m = UserPb.decode(b) as unknown as {
    name?: Uint8Array;
    password?: Uint8Array;
    roles?: string[];
    options?: { noPassword?: boolean } | null;
  };
  return {
    name: Buffer.from(m.name ?? []).toString('utf8'),
    password: Buffer.from(m.password ?? []),
    roles: [...(m.roles ?? [])],
    options: m.options ? { noPassword: !!m.options.noPassword } : undefined,
  };
}

export function encodeRole(r: Role): Buffer {
  const m: Record<string, unknown> = { name: Buffer.from(r.name, 'utf8') };
  if (r.perms.length > 0) {
    m['keyPermission'] = r.perms.map((p) => {
      const pm: Record<string, unknown> = {};
      if (p.permType !== 0) pm['permType'] = p.permType;
      if (p.key.length > 0) pm['key'] = p.key;
      if (p.rangeEnd.length > 0) pm['rangeEnd'] = p.rangeEnd;
      return pm;
    });
  }
  return Buffer.from(RolePb.encode(m).finish());
}

export function decodeRole(b: Uint8Array): Role {
  const m = RolePb.decode(b) as unknown as {
    name?: Uint8Array;
    keyPermission?: { permType?: number; key?: Uint8Array; rangeEnd?: Uint8Array }[];
  };
  return {
    name: Buffer.from(m.name ?? []).toString('utf8'),
    perms: (m.keyPermission ?? []).map((p) => ({
      permType: p.permType ?? 0,
      key: Buffer.from(p.key ?? []),
      rangeEnd: Buffer.from(p.rangeEnd ?? []),
    })),
  };
}

/** Go's sort.SearchStrings over a sorted list: whether `s` is in it. */
function hasSorted(list: readonly string[], s: string): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < s) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo] === s;
}

/** Go compares strings bytewise (UTF-8); JS compares UTF-16 units: the same order for ASCII names. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function hasRootRole(u: User): boolean {
  return hasSorted(u.roles, ROOT_ROLE);
}

/**
 * bcrypt jobs running on libuv's thread pool at once. The pool (4 threads by default) also runs the
 * WAL's large writes and other file work: a flood of Authenticate calls must leave it room, so at most
 * two bcrypt jobs run at a time and the rest wait their turn here.
 */
const BCRYPT_SLOTS = 2;
let bcryptRunning = 0;
const bcryptWaiting: (() => void)[] = [];

async function inBcryptSlot<T>(job: () => Promise<T>): Promise<T> {
  if (bcryptRunning >= BCRYPT_SLOTS) await new Promise<void>((r) => bcryptWaiting.push(r));
  else bcryptRunning++;
  try {
    return await job();
  } finally {
    const next = bcryptWaiting.shift();
    if (next) next();
    else bcryptRunning--;
  }
}

/** A bcrypt hash of `password` at `cost`, computed on the thread pool ($2a$, as Go writes it). */
export async function hashPassword(password: string, cost: number): Promise<Buffer> {
  const h = await inBcryptSlot(() => bcryptHash(password, cost, randomBytes(16)));
  // $2b$ and Go's $2a$ hash the same for passwords up to 72 bytes, and both truncate there.
  return Buffer.from(h.startsWith('$2b$') ? '$2a$' + h.slice(4) : h, 'latin1');
}

export interface AuthStoreOptions {
  log: Logger;
  tokens: TokenProvider;
  bcryptCost?: number | undefined;
}

export class AuthStore {
  /** Whether auth is enabled: a plain field, read on every request. */
  enabled = false;
  private rev = 0;
  private users = new Map<string, User>();
  private roles = new Map<string, Role>();
  private permCache = new Map<string, UnifiedPerms>();
  readonly bcryptCost: number;
  private readonly log: Logger;
  readonly tokens: TokenProvider;

  constructor(
    private readonly backend: Backend,
    opts: AuthStoreOptions,
  ) {
    this.log = opts.log;
    this.tokens = opts.tokens;
    let cost = opts.bcryptCost ?? BCRYPT_DEFAULT_COST;
    if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) {
      this.log.warn(
        {
          'min-cost': BCRYPT_MIN_COST,
          'max-cost': BCRYPT_MAX_COST,
          'default-cost': BCRYPT_DEFAULT_COST,
          'given-cost': cost,
        },
        'use default bcrypt cost instead of the invalid given cost',
      );
      cost = BCRYPT_DEFAULT_COST;
    }
    this.bcryptCost = cost;
    this.load();
    // A new store starts at revision 1, written by each member itself (as etcd's NewAuthStore).
    if (this.rev === 0) this.commitRevision();
  }

  /** Reads the buckets again (the backend now holds a snapshot's data); etcd's Recover. */
  reload(): void {
    const was = this.enabled;
    this.load();
    if (this.enabled && !was) this.tokens.enable();
    if (!this.enabled && was) this.tokens.disable();
  }

  private load(): void {
    const flag = this.backend.get('auth', ENABLE_FLAG_KEY);
    this.enabled = flag !== undefined && flag.equals(AUTH_ENABLED);
    const rev = this.backend.get('auth', REVISION_KEY);
    this.rev = rev && rev.length === 8 ? Number(rev.readBigUInt64BE(0)) : 0;
    this.users = new Map();
    this.backend.forEach('authUsers', undefined, undefined, (_k, v) => {
      const u = decodeUser(v);
      this.users.set(u.name, u);
    });
    this.roles = new Map();
    this.backend.forEach('authRoles', undefined, undefined, (_k, v) => {
      const r = decodeRole(v);
      this.roles.set(r.name, r);
    });
    if (this.enabled) this.tokens.enable();
    this.refreshPermCache();
  }

  revision(): number {
    return this.rev;
  }

  private commitRevision(): void {
    this.rev++;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(this.rev), 0);
    this.backend.put('auth', REVISION_KEY, b);
  }

  private putUser(u: User): void {
    this.users.set(u.name, u);
    this.backend.put('authUsers', Buffer.from(u.name, 'utf8'), encodeUser(u));
  }

  private putRole(r: Role): void {
    this.roles.set(r.name, r);
    this.backend.put('authRoles', Buffer.from(r.name, 'utf8'), encodeRole(r));
  }

  /** etcd's refreshRangePermCache: every user's merged permissions, rebuilt after each change. */
  private refreshPermCache(): void {
    const cache = new Map<string, UnifiedPerms>();
    for (const u of this.users.values()) {
      const perms: Permission[] = [];
      for (const name of u.roles) {
        const r = this.roles.get(name);
        if (r) perms.push(...r.perms);
      }
      cache.set(u.name, UnifiedPerms.merge(perms));
    }
    this.permCache = cache;
  }

  private changed(): void {
    this.commitRevision();
    this.refreshPermCache();
  }

  // ---- applied commands (each runs when its entry applies, on every member) ----

  authEnable(): void {
    if (this.enabled) {
      this.log.info('authentication is already enabled; ignored auth enable request');
      return;
    }
    const u = this.users.get(ROOT_USER);
    if (!u) throw new ErrRootUserNotExist();
    if (!hasRootRole(u)) throw new ErrRootRoleNotExist();
    this.backend.put('auth', ENABLE_FLAG_KEY, AUTH_ENABLED);
    this.enabled = true;
    this.tokens.enable();
    this.refreshPermCache();
    this.log.info('enabled authentication');
  }

  authDisable(): void {
    if (!this.enabled) return;
    this.backend.put('auth', ENABLE_FLAG_KEY, AUTH_DISABLED);
    this.commitRevision();
    this.enabled = false;
    this.tokens.disable();
    this.log.info('disabled authentication');
  }

  /** `hashed`: the bcrypt hash the proposer computed (empty for a user without password). */
  userAdd(name: string, hashed: Buffer, options: { noPassword: boolean } | undefined): void {
    if (name.length === 0) throw new ErrUserEmpty();
    if (this.users.has(name)) throw new ErrUserAlreadyExist();
    const noPassword = options?.noPassword === true;
    this.putUser({
      name,
      password: noPassword ? Buffer.alloc(0) : hashed,
      roles: [],
      options: { noPassword },
    });
    this.changed();
    this.log.info({ 'user-name': name }, 'added a user');
  }

  userDelete(name: string): void {
    if (this.enabled && name === ROOT_USER) {
      this.log.warn({ 'user-name': name }, "cannot delete 'root' user");
      throw new ErrInvalidAuthMgmt();
    }
    const u = this.users.get(name);
    if (!u) throw new ErrUserNotFound();
    this.users.delete(name);
    this.backend.del('authUsers', Buffer.from(name, 'utf8'));
    this.changed();
    this.tokens.invalidateUser(name);
    this.log.info({ 'user-name': name, 'user-roles': u.roles }, 'deleted a user');
  }

  userChangePassword(name: string, hashed: Buffer): void {
    const u = this.users.get(name);
    if (!u) throw new ErrUserNotFound();
    this.putUser({ name, roles: u.roles, password: hashed, options: u.options });
    this.changed();
    this.tokens.invalidateUser(name);
    this.log.info({ 'user-name': name, 'user-roles': u.roles }, 'changed a password of a user');
  }

  userGrantRole(user: string, role: string): void {
    const u = this.users.get(user);
    if (!u) throw new ErrUserNotFound();
    if (role !== ROOT_ROLE && !this.roles.has(role)) throw new ErrRoleNotFound();
    if (hasSorted(u.roles, role)) {
      this.log.warn(
        { 'user-name': user, 'user-roles': u.roles, 'duplicate-role-name': role },
        'ignored grant role request to a user',
      );
      return;
    }
    const roles = [...u.roles, role].sort(byteCompare);
    this.putUser({ ...u, roles });
    this.changed();
    this.log.info(
      { 'user-name': user, 'user-roles': roles, 'added-role-name': role },
      'granted a role to a user',
    );
  }

  userGet(name: string): string[] {
    const u = this.users.get(name);
    if (!u) throw new ErrUserNotFound();
    return [...u.roles];
  }

  /** Users in key order (the bucket's order: bytes). */
  userList(): string[] {
    return [...this.users.keys()].sort(byteCompare);
  }

  userRevokeRole(name: string, role: string): void {
    if (this.enabled && name === ROOT_USER && role === ROOT_ROLE) {
      this.log.warn({ 'user-name': name, 'role-name': role }, "'root' user cannot revoke 'root' role");
      throw new ErrInvalidAuthMgmt();
    }
    const u = this.users.get(name);
    if (!u) throw new ErrUserNotFound();
    const roles = u.roles.filter((r) => r !== role);
    if (roles.length === u.roles.length) throw new ErrRoleNotGranted();
    this.putUser({ ...u, roles });
    this.changed();
    this.log.info(
      { 'user-name': name, 'old-user-roles': u.roles, 'new-user-roles': roles, 'revoked-role-name': role },
      'revoked a role from a user',
    );
  }

  roleGet(name: string): Permission[] {
    const r = this.roles.get(name);
    if (!r) throw new ErrRoleNotFound();
    return r.perms.map((p) => ({ ...p }));
  }

  roleList(): string[] {
    return [...this.roles.keys()].sort(byteCompare);
  }

  roleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): void {
    const r = this.roles.get(name);
    if (!r) throw new ErrRoleNotFound();
    const perms = r.perms.filter(
      (p) => !Buffer.from(p.key).equals(key) || !Buffer.from(p.rangeEnd).equals(rangeEnd),
    );
    if (perms.length === r.perms.length) throw new ErrPermissionNotGranted();
    this.putRole({ name, perms });
    this.changed();
    this.log.info(
      { 'role-name': name, key: Buffer.from(key).toString(), 'range-end': Buffer.from(rangeEnd).toString() },
      'revoked a permission on range',
    );
  }

  roleDelete(name: string): void {
    if (this.enabled && name === ROOT_ROLE) {
      this.log.warn({ 'role-name': name }, "cannot delete 'root' role");
      throw new ErrInvalidAuthMgmt();
    }
    if (!this.roles.has(name)) throw new ErrRoleNotFound();
    this.roles.delete(name);
    this.backend.del('authRoles', Buffer.from(name, 'utf8'));
    for (const u of [...this.users.values()]) {
      const roles = u.roles.filter((r) => r !== name);
      if (roles.length !== u.roles.length) this.putUser({ ...u, roles });
    }
    this.changed();
    this.log.info({ 'role-name': name }, 'deleted a role');
  }

  roleAdd(name: string): void {
    if (name.length === 0) throw new ErrRoleEmpty();
    if (this.roles.has(name)) throw new ErrRoleAlreadyExist();
    this.putRole({ name, perms: [] });
    // As etcd: the revision moves, the permission cache is not rebuilt (a new role grants nothing).
    this.commitRevision();
    this.log.info({ 'role-name': name }, 'created a role');
  }

  /**
   * etcd's RoleGrantPermission: the same key and range end replaces the type; otherwise the permission
   * is added and the list sorted by key (a stable sort here; Go's sort.Sort is not stable, which only
   * matters for two ranges that start at the same key).
   */
  roleGrantPermission(name: string, perm: Permission): void {
    const r = this.roles.get(name);
    if (!r) throw new ErrRoleNotFound();
    const perms = r.perms.map((p) => ({ ...p }));
    let lo = 0;
    let hi = perms.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(perms[mid]!.key, perm.key) < 0) lo = mid + 1;
      else hi = mid;
    }
    const at = perms[lo];
    if (at && Buffer.from(at.key).equals(perm.key) && Buffer.from(at.rangeEnd).equals(perm.rangeEnd)) {
      at.permType = perm.permType;
    } else {
      perms.push({
        permType: perm.permType,
        key: Buffer.from(perm.key),
        rangeEnd: Buffer.from(perm.rangeEnd),
      });
      perms.sort((a, b) => Buffer.compare(a.key, b.key));
    }
    this.putRole({ name, perms });
    this.changed();
    this.log.info(
      { 'user-name': name, 'permission-name': PERM_TYPE_NAMES[perm.permType] ?? String(perm.permType) },
      'granted/updated a permission to a user',
    );
  }

  // ---- checks (read only) ----

  /** etcd's CheckPassword (before Authenticate is proposed): the auth revision it was checked at. */
  async checkPassword(name: string, password: string): Promise<number> {
    if (!this.enabled) throw new ErrAuthNotEnabled();
    const u = this.users.get(name);
    if (!u) throw new ErrAuthFailed();
    if (u.options?.noPassword) throw new ErrNoPasswordUser();
    const rev = this.rev;
    // bcrypt's own comparison is constant-time over the hash; it runs on the thread pool.
    let ok = false;
    try {
      const stored = u.password.toString('latin1');
      ok = await inBcryptSlot(() => bcryptCompare(password, stored));
    } catch {
      ok = false;
    }
    if (!ok) {
      this.log.info({ 'user-name': name }, 'invalid password');
      throw new ErrAuthFailed();
    }
    return rev;
  }

  /** etcd's Authenticate as applied: the user must still exist and have a password. */
  checkAuthenticate(name: string): void {
    if (!this.enabled) throw new ErrAuthNotEnabled();
    const u = this.users.get(name);
    if (!u || u.options?.noPassword) throw new ErrAuthFailed();
  }

  hasRole(user: string, role: string): boolean {
    const u = this.users.get(user);
    if (!u) {
      this.log.warn({ 'user-name': user, 'role-name': role }, "'has-role' requested for non-existing user");
      return false;
    }
    return u.roles.includes(role);
  }

  /** etcd's IsAdminPermitted. */
  isAdminPermitted(ai: AuthInfo | undefined): void {
    if (!this.enabled) return;
    if (!ai || ai.username === '') throw new ErrUserEmpty();
    const u = this.users.get(ai.username);
    if (!u) throw new ErrUserNotFound();
    if (!hasRootRole(u)) throw new ErrPermissionDenied();
  }

  /** etcd's isOpPermitted: read (`write` false) or write permission on [key, rangeEnd). */
  isOpPermitted(
    ai: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined | null,
    write: boolean,
  ): void {
    if (!this.enabled) return;
    if (!ai || ai.revision === 0) throw new ErrUserEmpty();
    if (ai.revision < this.rev) {
      this.log.warn(
        {
          'current node auth revision': this.rev,
          'request auth revision': ai.revision,
          'request key': Buffer.from(key).toString(),
          error: 'auth: revision in header is old',
        },
        'request auth revision is less than current node auth revision',
      );
      throw new ErrAuthOldRevision();
    }
    const u = this.users.get(ai.username);
    if (!u) {
      this.log.warn({ 'user-name': ai.username }, 'cannot find a user for permission check');
      throw new ErrPermissionDenied();
    }
    if (hasRootRole(u)) return;
    const perms = this.permCache.get(ai.username);
    if (perms && perms.permitted(key, rangeEnd, write)) return;
    throw new ErrPermissionDenied();
  }

  isRangePermitted(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined | null): void {
    this.isOpPermitted(ai, key, rangeEnd, false);
  }

  isPutPermitted(ai: AuthInfo | undefined, key: Uint8Array): void {
    this.isOpPermitted(ai, key, undefined, true);
  }

  isDeleteRangePermitted(
    ai: AuthInfo | undefined,
    key: Uint8Array,
    rangeEnd: Uint8Array | undefined | null,
  ): void {
    this.isOpPermitted(ai, key, rangeEnd, true);
  }

  close(): void {
    this.tokens.disable();
  }
}

const PERM_TYPE_NAMES: Record<number, string> = { 0: 'READ', 1: 'WRITE', 2: 'READWRITE' };
