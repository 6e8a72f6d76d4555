// etcdserverpb.Auth: every RPC of etcd 3.4's AuthServer over the member's Auth interface (server/api.ts).
// AuthStatus is etcd 3.5's and 3.4.23 answers it Unimplemented: it is left out, so the router does
// the same. The caller (a token, or a certificate's CN) is looked up only while auth is enabled: with
// auth disabled every call is anonymous, and Authenticate answers "authentication is not enabled", after
// which etcd's clients carry on without a token.
import type { Auth, AuthInfo, AuthSource } from '../../server/api.ts';
import { ErrAuthNotEnabled } from '../../auth/errors.ts';
import { decode, requestTypes } from './codec.ts';
import { unary, type ServiceImpl } from './router.ts';

/** The call carries a token (metadata `token` or `authorization`). */
export function hasToken(src: AuthSource): boolean {
  return src.metadata('token') !== undefined || src.metadata('authorization') !== undefined;
}

/**
 * The caller of a call: looked up while auth is enabled, and also while it is not when the call
 * carries a token (etcd checks a token either way: a stale or made-up one is "invalid auth token"
 * even then; its clients send none once Authenticate said auth is off).
 */
export function callerOf(auth: Auth, src: AuthSource): AuthInfo | undefined | Promise<AuthInfo | undefined> {
  return auth.enabled || hasToken(src) ? auth.authInfo(src) : undefined;
}

/** Runs `fn` with the caller, at once when it is known without waiting. */
export function withCaller<T>(
  auth: Auth,
  src: AuthSource,
  fn: (ai: AuthInfo | undefined) => T | Promise<T>,
): T | Promise<T> {
  const ai = callerOf(auth, src);
  return ai instanceof Promise ? ai.then(fn) : fn(ai);
}

const METHODS = [
  'AuthEnable',
  'AuthDisable',
  'UserAdd',
  'UserGet',
  'UserList',
  'UserDelete',
  'UserChangePassword',
  'UserGrantRole',
  'UserRevokeRole',
  'RoleAdd',
  'RoleGet',
  'RoleList',
  'RoleDelete',
  'RoleGrantPermission',
  'RoleRevokePermission',
] as const;

export function authService(auth: Auth): ServiceImpl {
  const t = requestTypes('etcdserverpb.Auth');
  const impl: ServiceImpl = {
    Authenticate: unary((raw, ctx) => {
      const req = decode<{ name?: string; password?: string }>(t['Authenticate']!, raw);
      return auth.authenticate(req.name ?? '', req.password ?? '', ctx);
    }),
  };
  for (const m of METHODS) {
    impl[m] = unary((raw, ctx) => {
      const req = decode<Record<string, unknown>>(t[m]!, raw);
      return withCaller(auth, ctx, (ai) => auth.request(m, req, ai));
    });
  }
  return impl;
}

/** An Auth that is never enabled (a router without a member's auth: tests, tools). */
export const NO_AUTH: Auth = {
  enabled: false,
  authInfo: () => undefined,
  isAdminPermitted: () => undefined,
  isRangePermitted: () => undefined,
  authenticate: () => Promise.reject(new ErrAuthNotEnabled()),
  request: () => Promise.reject(new ErrAuthNotEnabled()),
};
