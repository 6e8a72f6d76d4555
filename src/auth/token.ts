// Auth tokens (etcd's TokenProvider): `--auth-token simple` (the default) and
// `--auth-token jwt,pub-key=..,priv-key=..,sign-method=..,ttl=..`.
// Simple tokens are "<16 random letters>.<index>": the index is the log index of the Authenticate
// entry, and every member assigns the token to the user when it applies that entry, so any member
// accepts it once it has applied that far (a member behind waits for it, as etcd's indexWaiter). A
// token lives --auth-token-ttl (300 s) after its last use; a password change, a user's deletion or auth
// disable drop it. JWT tokens carry the user and the auth revision, signed with etcd's claims
// (`username`, `revision`, `exp`), so a token one member (or etcd) signs verifies on any other.
import { createPrivateKey, createPublicKey, randomInt, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import { ErrVerifyOnly } from './errors.ts';

/** Who a request comes from (etcd's AuthInfo): the token's user and the auth revision it saw. */
export interface AuthInfo {
  username: string;
  revision: number;
}

export interface TokenProvider {
  /** The user a token names, with the auth revision to check against; undefined: not a valid token. */
  info(token: string, revision: number): AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /** A token for `username`, assigned when the Authenticate entry at `index` applies. */
  assign(username: string, revision: number, index: number, prefix: string): string | Promise<string>;
  enable(): void;
  disable(): void;
  invalidateUser(username: string): void;
  /** The random part of a simple token, chosen by the member that proposes Authenticate ('' for JWT). */
  genTokenPrefix(): string;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SIMPLE_TOKEN_LENGTH = 16;
export const SIMPLE_TOKEN_TTL_DEFAULT_MS = 300_000;

export interface SimpleTokenDeps {
  log: Logger;
  /** ms; <= 0 takes etcd's default (300 s). */
  ttlMs: number;
  now: () => number;
  /**
   * Resolves once this member applied `index` (true), or false when it did not in time; undefined
   * when it has already.
   */
  waitApplied: (index: number) => Promise<boolean> | undefined;
}

export class SimpleTokens implements TokenProvider {
  /** token -> user and expiry; undefined while auth is disabled. */
  private tokens: Map<string, { user: string; deadline: number }> | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly ttlMs: number;

  constructor(private readonly deps: SimpleTokenDeps) {
    this.ttlMs = deps.ttlMs > 0 ? deps.ttlMs : SIMPLE_TOKEN_TTL_DEFAULT_MS;
  }

  genTokenPrefix(): string {
    let s = '';
    for (let i = 0; i < SIMPLE_TOKEN_LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
    return s;
  }

  enable(): void {
    if (this.tokens) return;
    this.tokens = new Map();
    // Expired tokens are refused when used; this only frees their memory (etcd sweeps every second).
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  disable(): void {
    this.tokens = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Drops expired tokens. */
  sweep(): void {
    if (!this.tokens) return;
    const now = this.deps.now();
    for (const [t, e] of this.tokens) {
      if (now > e.deadline) {
        this.tokens.delete(t);
        this.deps.log.info({ 'user-name': e.user }, 'deleted a simple token');
      }
    }
  }

  invalidateUser(username: string): void {
    if (!this.tokens) return;
    for (const [t, e] of this.tokens) if (e.user === username) this.tokens.delete(t);
  }

  assign(username: string, _revision: number, index: number, prefix: string): string {
    const token = `${prefix}.${index}`;
    if (this.tokens) {
      // A prefix is 16 random letters: a repeat is a broken random source, as etcd panics on it.
      if (this.tokens.has(token)) throw new Error('failed to assign already-used simple token to a user');
      this.tokens.set(token, { user: username, deadline: this.deps.now() + this.ttlMs });
    }
    return token;
  }

  info(token: string, revision: number): AuthInfo | undefined | Promise<AuthInfo | undefined> {
    const parts = token.split('.');
    if (parts.length !== 2 || !/^[+-]?\d+$/.test(parts[1]!)) return undefined;
    const index = Number(parts[1]);
    if (!Number.isSafeInteger(index) || index < 0) return undefined;
    const wait = this.deps.waitApplied(index);
    if (wait === undefined) return this.lookup(token, revision);
    return wait.then((ok) => (ok ? this.lookup(token, revision) : undefined));
  }

  private lookup(token: string, revision: number): AuthInfo | undefined {
    const e = this.tokens?.get(token);
    if (!e) return undefined;
    const now = this.deps.now();
    if (now > e.deadline) {
      this.tokens!.delete(token);
      return undefined;
    }
    e.deadline = now + this.ttlMs;
    return { username: e.user, revision };
  }
}

/** JWT signing methods etcd 3.4 accepts (golang-jwt's names), plus EdDSA. */
const JWT_METHODS = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'HS256',
  'HS384',
  'HS512',
  'EdDSA',
]);

export interface JwtOptions {
  signMethod: string;
  /** PEM text of the keys, as read from pub-key= and priv-key=. */
  publicKey?: Buffer;
  privateKey?: Buffer;
  ttlMs: number;
}

export class JwtTokens implements TokenProvider {
  private readonly signKey: KeyObject | Uint8Array | undefined;
  private readonly verifyKey: KeyObject | Uint8Array;

  constructor(
    private readonly opts: JwtOptions,
    private readonly log: Logger,
    private readonly now: () => number = () => Date.now(),
  ) {
    const m = opts.signMethod;
    if (m.startsWith('HS')) {
      if (!opts.privateKey || opts.privateKey.length === 0)
        throw new AuthOptionError('auth: missing key data');
      this.signKey = new Uint8Array(opts.privateKey);
      this.verifyKey = this.signKey;
      return;
    }
    const parse = (pem: Buffer | undefined, make: (pem: Buffer) => KeyObject) => {
      if (!pem?.length) return undefined;
      try {
        return make(pem);
      } catch {
        // golang-jwt's ErrKeyMustBePEMEncoded, as etcd 3.4 reports it.
        throw new AuthOptionError('Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key');
      }
    };
    const priv = parse(opts.privateKey, createPrivateKey);
    const pub = parse(opts.publicKey, createPublicKey);
    if (!priv && !pub) throw new AuthOptionError('auth: missing key data');
    const want = m.startsWith('RS') || m.startsWith('PS') ? 'rsa' : m.startsWith('ES') ? 'ec' : 'ed25519';
    const name = want === 'rsa' ? 'RSA' : want === 'ec' ? 'ECDSA' : 'Ed25519';
    for (const [k, which] of [
      [priv, 'private'],
      [pub, 'public'],
    ] as const) {
      if (k && k.asymmetricKeyType !== want && !(want === 'rsa' && k.asymmetricKeyType === 'rsa-pss')) {
        // golang-jwt's words (etcd 3.4 stops with them).
        throw new AuthOptionError(`key is not a valid ${name} ${which} key`);
      }
    }
    if (priv && pub) {
      const derived = createPublicKey(priv).export({ format: 'der', type: 'spki' });
      if (!derived.equals(pub.export({ format: 'der', type: 'spki' }))) {
        throw new AuthOptionError("auth: public and private keys don't match");
      }
    }
    this.signKey = priv;
    this.verifyKey = pub ?? createPublicKey(priv!);
  }

  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }

  async assign(username: string, revision: number): Promise<string> {
    if (!this.signKey) throw new ErrVerifyOnly();
    const exp = Math.floor((this.now() + this.opts.ttlMs) / 1000);
    // Go marshals the claims map with its keys sorted: exp, revision, username.
    return new SignJWT({ exp, revision, username })
      .setProtectedHeader({ alg: this.opts.signMethod, typ: 'JWT' })
      .sign(this.signKey);
  }

  async info(token: string): Promise<AuthInfo | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.verifyKey, {
        algorithms: [this.opts.signMethod],
        currentDate: new Date(this.now()),
      });
      const username = payload['username'];
      const revision = payload['revision'];
      if (typeof username !== 'string' || typeof revision !== 'number') {
        this.log.warn('invalid JWT token');
        return undefined;
      }
      return { username, revision };
    } catch (err) {
      this.log.warn(
        { error: err instanceof Error ? err.message : String(err) },
        'failed to parse a JWT token',
      );
      return undefined;
    }
  }
}

/** A bad --auth-token value: the member does not start (one line, etcd's words where it has them). */
export class AuthOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthOptionError';
  }
}

export const ErrInvalidAuthOpts = 'auth: invalid auth options';

/** etcd's decomposeOpts: "type,k=v,k=v" (a pair without exactly one '=' or a repeated key is refused). */
export function decomposeOpts(optstr: string): { type: string; opts: Map<string, string> } {
  const parts = optstr.split(',');
  const opts = new Map<string, string>();
  for (const p of parts.slice(1)) {
    const pair = p.split('=');
    if (pair.length !== 2 || opts.has(pair[0]!)) throw new AuthOptionError(ErrInvalidAuthOpts);
    opts.set(pair[0]!, pair[1]!);
  }
  return { type: parts[0]!, opts };
}

export interface TokenProviderDeps {
  log: Logger;
  /** --auth-token-ttl in ms (simple tokens). */
  simpleTtlMs: number;
  waitApplied: SimpleTokenDeps['waitApplied'];
  /** Go's time.ParseDuration: ns, or its error text. */
  parseDuration: (s: string) => number | string;
  now?: () => number;
  wallNow?: () => number;
}

/** Nothing is ever valid: `--auth-token ''` (etcd's nop provider). */
class NopTokens implements TokenProvider {
  info(): undefined {
    return undefined;
  }
  assign(): string {
    throw new AuthOptionError('auth: no token provider');
  }
  enable(): void {}
  disable(): void {}
  invalidateUser(): void {}
  genTokenPrefix(): string {
    return '';
  }
}

/** etcd's NewTokenProvider from the --auth-token value. */
export function newTokenProvider(optstr: string, deps: TokenProviderDeps): TokenProvider {
  const { type, opts } = decomposeOpts(optstr);
  switch (type) {
    case 'simple':
      deps.log.warn('simple token is not cryptographically signed');
      return new SimpleTokens({
        log: deps.log,
        ttlMs: deps.simpleTtlMs,
        now: deps.now ?? (() => performance.now()),
        waitApplied: deps.waitApplied,
      });
    case 'jwt': {
      const unknown = [...opts.keys()].filter(
        (k) => !['sign-method', 'pub-key', 'priv-key', 'ttl'].includes(k),
      );
      if (unknown.length > 0) deps.log.warn({ keys: unknown }, 'unknown JWT options');
      const problem = (error: string): never => {
        deps.log.error({ error }, 'problem loading JWT options');
        throw new AuthOptionError(ErrInvalidAuthOpts);
      };
      let ttlMs = 5 * 60_000;
      const ttl = opts.get('ttl') ?? '';
      if (ttl !== '') {
        const ns = deps.parseDuration(ttl);
        ttlMs = (typeof ns === 'string' ? problem(ns) : ns) / 1e6;
      }
      const read = (k: string): Buffer | undefined => {
        const f = opts.get(k) ?? '';
        if (f === '') return undefined;
        try {
          return readFileSync(f);
        } catch (err) {
          return problem(err instanceof Error ? err.message : String(err));
        }
      };
      const publicKey = read('pub-key');
      const privateKey = read('priv-key');
      const signMethod = opts.get('sign-method') ?? '';
      if (!JWT_METHODS.has(signMethod)) problem('auth: invalid auth signature method');
      const o: JwtOptions = { signMethod, ttlMs };
      if (publicKey) o.publicKey = publicKey;
      if (privateKey) o.privateKey = privateKey;
      try {
        return new JwtTokens(o, deps.log, deps.wallNow);
      } catch (err) {
        if (err instanceof AuthOptionError) throw err;
        throw new AuthOptionError(err instanceof Error ? err.message : String(err));
      }
    }
    case '':
      return new NopTokens();
    default:
      deps.log.warn({ type, error: ErrInvalidAuthOpts }, 'unknown token type');
      throw new AuthOptionError(ErrInvalidAuthOpts);
  }
}
