// The Auth service's commands and the caller's identity (etcd's v3_server.go Auth* methods,
// AuthInfoFromCtx and Authenticate). Every Auth RPC goes through the log, reads included (as in etcd
// 3.4), with the caller in the entry's header; the auth applier (apply/auth_applier.ts) checks it and
// runs the command on every member. Passwords are hashed here, on the thread pool, before proposing:
// the log carries the bcrypt hash, never the password. Authenticate checks the password first (on the
// thread pool), then proposes the user name and the random part of a simple token; the token is
// assigned on every member when that entry applies, so any member accepts it.
import type { Logger } from 'pino';
import type { Header } from '../proto/etcdserverpb.ts';
import { hashPassword, type AuthStore } from '../auth/store.ts';
import { ErrAuthNotEnabled, ErrInvalidAuthToken } from '../auth/errors.ts';
import type { Auth, AuthInfo, AuthSource, RaftStatus } from './api.ts';
import type { Proposer } from './propose.ts';
import { authRequestType, Op } from './raft_request.ts';
import type { LinearizableReads } from './kv_server.ts';

const OPS: Record<string, Op> = {
  AuthEnable: Op.AuthEnable,
  AuthDisable: Op.AuthDisable,
  UserAdd: Op.AuthUserAdd,
  UserGet: Op.AuthUserGet,
  UserList: Op.AuthUserList,
  UserDelete: Op.AuthUserDelete,
  UserChangePassword: Op.AuthUserChangePassword,
  UserGrantRole: Op.AuthUserGrantRole,
  UserRevokeRole: Op.AuthUserRevokeRole,
  RoleAdd: Op.AuthRoleAdd,
  RoleGet: Op.AuthRoleGet,
  RoleList: Op.AuthRoleList,
  RoleDelete: Op.AuthRoleDelete,
  RoleGrantPermission: Op.AuthRoleGrantPermission,
  RoleRevokePermission: Op.AuthRoleRevokePermission,
};

export interface AuthServerDeps {
  store: AuthStore;
  proposer: Proposer;
  reads: LinearizableReads;
  status: Pick<RaftStatus, 'header'>;
  /** --client-cert-auth: a call without a token is its certificate's CN. */
  clientCertAuth: boolean;
  log: Logger;
}

export class AuthServer implements Auth {
  constructor(private readonly deps: AuthServerDeps) {}

  get enabled(): boolean {
    return this.deps.store.enabled;
  }

  authInfo(src: AuthSource): AuthInfo | undefined | Promise<AuthInfo | undefined> {
    const { store } = this.deps;
    const token = src.metadata('token') ?? src.metadata('authorization');
    if (token !== undefined) {
      const info = store.tokens.info(token, store.revision());
      if (info === undefined) return this.invalidToken(src);
      if (info instanceof Promise) return info.then((i) => i ?? this.invalidToken(src));
      return info;
    }
    if (this.deps.clientCertAuth && src.certCommonName !== undefined) {
      return { username: src.certCommonName, revision: store.revision() };
    }
    return undefined;
  }

  /** etcd logs "invalid auth token" with the token; here without it (it is a credential). */
  private invalidToken(src: AuthSource): never {
    this.deps.log.warn({ 'remote-addr': src.remoteAddress }, 'invalid auth token');
    throw new ErrInvalidAuthToken();
  }

  isAdminPermitted(ai: AuthInfo | undefined): void {
    this.deps.store.isAdminPermitted(ai);
  }

  isRangePermitted(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined): void {
    this.deps.store.isRangePermitted(ai, key, rangeEnd);
  }

  async authenticate(
    name: string,
    password: string,
    src: AuthSource,
  ): Promise<{ header: Header; token: string }> {
    const remoteAddress = src.remoteAddress;
    const { store, proposer, log } = this.deps;
    const barrier = this.deps.reads.barrier();
    if (barrier) await barrier;
    for (;;) {
      let checked: number;
      try {
        checked = await store.checkPassword(name, password);
      } catch (err) {
        if (!(err instanceof ErrAuthNotEnabled)) {
          log.warn(
            {
              user: name,
              'remote-addr': remoteAddress,
              error: err instanceof Error ? err.message : String(err),
            },
            'invalid authentication was requested',
          );
        }
        throw err;
      }
      const req = { name, simpleToken: store.tokens.genTokenPrefix() };
      const raw = authRequestType(Op.Authenticate).encode(req).finish();
      const caller = src.metadata('token') ?? src.metadata('authorization');
      const ai = caller === undefined ? undefined : await this.authInfo(src);
      const resp = await proposer.propose<{ header: Header; token: string }>(Op.Authenticate, raw, req, ai);
      if (checked === store.revision()) {
        this.deps.status.header(resp.header);
        return resp;
      }
      log.info('revision when password checked became stale; retrying');
    }
  }

  async request(
    method: string,
    req: Record<string, unknown>,
    ai: AuthInfo | undefined,
  ): Promise<Record<string, unknown>> {
    const op = OPS[method];
    if (op === undefined) throw new Error(`auth: no such method ${method}`);
    let body = req;
    if (op === Op.AuthUserAdd || op === Op.AuthUserChangePassword) {
      // The hash goes into the log in place of the password (what etcd 3.5 does; 3.4 hashes on every
      // member as it applies). A user without password has no hash.
      const opts = req['options'] as { noPassword?: boolean } | null | undefined;
      const password = typeof req['password'] === 'string' ? req['password'] : '';
      const hashed =
        op === Op.AuthUserAdd && opts?.noPassword
          ? ''
          : (await hashPassword(password, this.deps.store.bcryptCost)).toString('latin1');
      body = { ...req, password: '', hashedPassword: hashed };
    }
    const raw = authRequestType(op).encode(body).finish();
    const resp = await this.deps.proposer.propose<Record<string, unknown> & { header: Header }>(
      op,
      raw,
      body,
      ai,
    );
    this.deps.status.header(resp.header);
    return resp;
  }
}
