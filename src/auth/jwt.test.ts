import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuthOptionError, decomposeOpts, JwtTokens, newTokenProvider, SimpleTokens } from './token.ts';
import { ErrVerifyOnly } from './errors.ts';

const silent = pino({ level: 'silent' });

// A token minted by etcd 3.4.23 (--auth-token jwt,pub-key=..,priv-key=..,sign-method=RS256,ttl=87600h)
// for root at auth revision 3, with the public half of its key.
const ETCD_PUB = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmn6xe1aMpkJIzFrUvYgs
bY7aaWtDdRNAZ9FQtOY7vMU8RepjlBGX+f2DCg/RhaIp/KHKcOCsVrMU7gDO6AcV
htuKqHCzsfzaqQXgqoUTNCpAGlIkkQZoqFeuUjzaXZ+2aPuZ8djrqXhHXDyQOiFG
01Kt+mZxZEr6mPZoH1SmPKeYeBJGaOEcq392vcvGGitJD4JtdixMIjnM86Ukqm9R
TJpwIuBi+YPFTbGmxg0Zyv+2F4AHuJmX5zJG6RURlTQvh/+77fjl7d3VB5sWfDUo
yyFRNa7sOz95VnYyPV6yWIn6hqq572aN0Ctl/9igOfIHoPkJCz+NPOE/LvwPFDgT
0wIDAQAB
-----END PUBLIC KEY-----
`;
const ETCD_TOKEN =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjIxMTIwNjA2ODYsInJldmlzaW9uIjozLCJ1c2VybmFtZSI6InJvb3QifQ.' +
  'Hyid58BPUQdXg748NQ-XvfRrtCefIZ400aQr669en0mSxQlxFjQuY1t8N6HelLyY3einpAG60FoaXki08GUzzN3VLJwbcGjStLelleH1bUuK0T2nSaJ0b2m5V9ri0EhQSmfkdarlP5wqOCxNmjq3pGlaxGjez6oFdqUMyDhgdCIUrYFm9d8FMvJ6XYXvMWX-RxS6DtNRtz9niKOYfcje4PCqAZzcJocamQj0Itw7ps59Thi16xNeEpAly3iwMDJ7t8TcG2VUe85_n4dkm-1wF4xWN47unPr9qNSWxasqJUoopbCrjBnc0E5P6xYAxrzcWmL_RV1MPFuQpd9j_lWByQ';
/** When etcd minted it (its exp is 10 years later). */
const MINTED_MS = 1796700686_000;

test('a JWT etcd 3.4 signed verifies here with its public key (a verify-only provider)', async () => {
  const t = new JwtTokens(
    { signMethod: 'RS256', publicKey: Buffer.from(ETCD_PUB), ttlMs: 0 },
    silent,
    () => MINTED_MS,
  );
  assert.deepEqual(await t.info(ETCD_TOKEN), { username: 'root', revision: 3 });
  // Tampered payload, other algorithm expected: refused.
  const parts = ETCD_TOKEN.split('.');
  const forged = Buffer.from('{"exp":2112060686,"revision":3,"username":"alice"}').toString('base64url');
  assert.equal(await t.info(`${parts[0]}.${forged}.${parts[2]}`), undefined);
  const es = new JwtTokens(
    { signMethod: 'PS256', publicKey: Buffer.from(ETCD_PUB), ttlMs: 0 },
    silent,
    () => MINTED_MS,
  );
  assert.equal(await es.info(ETCD_TOKEN), undefined, 'alg RS256 is not the PS256 this member expects');
  await assert.rejects(
    Promise.resolve().then(() => t.assign('root', 3)),
    ErrVerifyOnly,
  );
});

for (const [method, kind, opts] of [
  ['RS256', 'rsa', { modulusLength: 2048 }],
  ['PS384', 'rsa', { modulusLength: 2048 }],
  ['ES256', 'ec', { namedCurve: 'P-256' }],
  ['ES384', 'ec', { namedCurve: 'P-384' }],
  ['EdDSA', 'ed25519', {}],
] as const) {
  test(`${method}: a token signed by one member verifies on another holding only the public key`, async () => {
    const { privateKey, publicKey } = generateKeyPairSync(kind as 'rsa', opts as { modulusLength: number });
    const priv = Buffer.from(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const pub = Buffer.from(publicKey.export({ format: 'pem', type: 'spki' }));
    let now = 1_700_000_000_000;
    const signer = new JwtTokens(
      { signMethod: method, privateKey: priv, publicKey: pub, ttlMs: 300_000 },
      silent,
      () => now,
    );
    const verifier = new JwtTokens({ signMethod: method, publicKey: pub, ttlMs: 300_000 }, silent, () => now);
    const token = await signer.assign('alice', 9);
    const [h, p] = token
      .split('.')
      .slice(0, 2)
      .map((s) => JSON.parse(Buffer.from(s, 'base64url').toString()) as unknown);
    assert.deepEqual(h, { alg: method, typ: 'JWT' });
    // etcd's claims, in the order Go marshals them.
    assert.equal(JSON.stringify(p), `{"exp":${(now + 300_000) / 1000},"revision":9,"username":"alice"}`);
    assert.deepEqual(await verifier.info(token), { username: 'alice', revision: 9 });
    now += 301_000;
    assert.equal(await verifier.info(token), undefined, 'expired');
  });
}

test('HS256: the priv-key file is the shared secret', async () => {
  const t = new JwtTokens(
    { signMethod: 'HS256', privateKey: Buffer.from('a shared secret'), ttlMs: 60_000 },
    silent,
  );
  assert.deepEqual(await t.info(await t.assign('bob', 2)), { username: 'bob', revision: 2 });
});

test("--auth-token values etcd refuses are refused with etcd's words", () => {
  const deps = {
    log: silent,
    simpleTtlMs: 300_000,
    waitApplied: () => undefined,
    parseDuration: (s: string) => (/^\d+[smh]$/.test(s) ? 0 : `time: invalid duration "${s}"`),
  };
  const refuses = (v: string, msg: string) =>
    assert.throws(
      () => newTokenProvider(v, deps),
      (e: unknown) => e instanceof AuthOptionError && e.message === msg,
      v,
    );
  refuses('bogus', 'auth: invalid auth options');
  refuses('simple,x', 'auth: invalid auth options');
  refuses('jwt', 'auth: invalid auth options');
  refuses('jwt,sign-method=RS256', 'auth: missing key data');
  refuses('jwt,sign-method=RS256,sign-method=RS256', 'auth: invalid auth options');
  refuses('jwt,sign-method=RS256,pub-key=/nonexistent', 'auth: invalid auth options');
  assert.ok(newTokenProvider('simple', deps) instanceof SimpleTokens);
  assert.deepEqual(decomposeOpts('jwt,a=1,b=2'), {
    type: 'jwt',
    opts: new Map([
      ['a', '1'],
      ['b', '2'],
    ]),
  });
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-jwt-'));
  try {
    const a = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const b = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'priv'), a.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    writeFileSync(join(dir, 'pub'), b.publicKey.export({ format: 'pem', type: 'spki' }));
    refuses(
      `jwt,sign-method=RS256,priv-key=${join(dir, 'priv')},pub-key=${join(dir, 'pub')}`,
      "auth: public and private keys don't match",
    );
    assert.ok(
      newTokenProvider(`jwt,sign-method=RS256,priv-key=${join(dir, 'priv')}`, deps) instanceof JwtTokens,
    );
    // A key of another type than the method: golang-jwt's words, as etcd 3.4 stops with them.
    refuses(`jwt,sign-method=ES256,priv-key=${join(dir, 'priv')}`, 'key is not a valid ECDSA private key');
    refuses(`jwt,sign-method=ES256,pub-key=${join(dir, 'pub')}`, 'key is not a valid ECDSA public key');
    writeFileSync(join(dir, 'junk'), 'not a key');
    refuses(
      `jwt,sign-method=RS256,priv-key=${join(dir, 'junk')}`,
      'Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key',
    );
    refuses(`jwt,sign-method=RS256,priv-key=${join(dir, 'priv')},ttl=5x`, 'auth: invalid auth options');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
