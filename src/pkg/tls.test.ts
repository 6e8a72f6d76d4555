import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { certDir, makeCa, type Ca } from '../../test/helpers/certs.ts';
import {
  CLIENT_FLAGS,
  certRefusal,
  commonName,
  goCipherSuites,
  handshakeError,
  loadTls,
  requiresClientCert,
  TlsConfigError,
  TlsSource,
  tlsVersion,
} from './tls.ts';

let ca: Ca;
let dir: ReturnType<typeof certDir>;

before(async () => {
  ca = await makeCa();
  dir = certDir('tetcd-pkg-tls-');
});
after(() => rmSync(dir.dir, { recursive: true, force: true }));

test("cipher suites are taken by Go's names, an unknown one refused with etcd's words; TLS 1.3 suites stay on", () => {
  const list = goCipherSuites([
    'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  ]);
  assert.match(list, /^ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:TLS_AES_128_GCM_SHA256/);
  assert.throws(() => goCipherSuites(['TLS_NOPE']), { message: 'unexpected TLS cipher suite "TLS_NOPE"' });
});

test('TLS versions are TLS1.2 and TLS1.3 (etcd 3.5), empty for the default', () => {
  assert.equal(tlsVersion('TLS1.2'), 'TLSv1.2');
  assert.equal(tlsVersion('TLS1.3'), 'TLSv1.3');
  assert.equal(tlsVersion(''), undefined);
  assert.throws(() => tlsVersion('TLS1.0'), TlsConfigError);
});

test('a trusted CA alone requires a client certificate, as etcd 3.4 does', () => {
  assert.equal(requiresClientCert({ certFile: 'c', keyFile: 'k' }), false);
  assert.equal(requiresClientCert({ certFile: 'c', keyFile: 'k', trustedCaFile: 'ca' }), true);
  assert.equal(requiresClientCert({ certFile: 'c', keyFile: 'k', clientCertAuth: true }), true);
});

test("bad files are refused with the flag, the path and Go's words", async () => {
  const good = dir.write('good', await ca.issue('server'));
  const other = dir.write('other', await ca.issue('other'));
  const notPem = dir.file('not.pem', 'nothing here\n');
  const cases: [string, string, RegExp][] = [
    [dir.dir + '/missing.pem', good.key, /^--cert-file \S+: open \S+: no such file or directory$/],
    [notPem, good.key, /tls: failed to find any PEM data in certificate input$/],
    [good.key, good.key, /PEM inputs may have been switched$/],
    [good.cert, notPem, /^--key-file \S+: tls: failed to find any PEM data in key input$/],
    [good.cert, other.key, /^--key-file \S+: tls: private key does not match public key$/],
  ];
  for (const [certFile, keyFile, re] of cases) {
    assert.throws(
      () => loadTls({ certFile, keyFile }, CLIENT_FLAGS),
      (e: Error) => {
        assert.ok(e instanceof TlsConfigError);
        assert.match(e.message, re);
        return true;
      },
    );
  }
  assert.ok(
    loadTls(
      { certFile: good.cert, keyFile: good.key, trustedCaFile: dir.file('ca.pem', ca.cert) },
      CLIENT_FLAGS,
    ).ca,
  );
});

test('TlsSource reloads changed files, and keeps the pair in use while a change does not load', async () => {
  const a = await ca.issue('a');
  const b = await ca.issue('b');
  const files = dir.write('rot', a);
  const errors: string[] = [];
  const src = new TlsSource({ certFile: files.cert, keyFile: files.key }, CLIENT_FLAGS, (m) =>
    errors.push(m),
  );
  assert.equal(src.refresh(), undefined, 'nothing changed');
  writeFileSync(files.cert, b.cert + '\n'); // the key is still a's
  assert.equal(src.refresh(), undefined);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /private key does not match public key/);
  assert.equal(src.refresh(), undefined, 'the same broken state is reported once');
  assert.equal(errors.length, 1);
  writeFileSync(files.key, b.key);
  const fresh = src.refresh();
  assert.ok(fresh);
  assert.equal(String(fresh.cert).trim(), b.cert.trim());
});

test("allowed CN and allowed hostname: a verified client certificate must match, else etcd's refusal", async () => {
  const cert = new X509Certificate(
    (await ca.issue('m1', { ips: ['10.0.0.1'], dns: ['m1.example'] })).cert,
  ).toLegacyObject();
  const info = { certFile: 'c', keyFile: 'k' };
  assert.equal(commonName(cert), 'm1');
  assert.equal(certRefusal(info, cert), undefined);
  assert.equal(certRefusal({ ...info, allowedCn: 'm1' }, cert), undefined);
  assert.equal(certRefusal({ ...info, allowedCn: 'm2' }, cert), 'client certificate authentication failed');
  assert.equal(certRefusal({ ...info, allowedHostname: 'm1.example' }, cert), undefined);
  assert.equal(certRefusal({ ...info, allowedHostname: '10.0.0.1' }, cert), undefined);
  assert.equal(
    certRefusal({ ...info, allowedHostname: 'm2.example' }, cert),
    'client certificate authentication failed',
  );
  assert.equal(
    certRefusal({ ...info, allowedCn: 'm1' }, undefined),
    'client certificate authentication failed',
  );
});

test('handshake errors read as Go words them', () => {
  const e = (reason: string) => Object.assign(new Error('x'), { reason });
  assert.equal(
    handshakeError(e('peer did not return a certificate')),
    "tls: client didn't provide a certificate",
  );
  assert.equal(handshakeError(e('http request')), 'tls: first record does not look like a TLS handshake');
  assert.equal(
    handshakeError(e('wrong version number')),
    'tls: first record does not look like a TLS handshake',
  );
});
