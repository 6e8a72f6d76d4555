// --auto-tls and --peer-auto-tls: etcd's transport.SelfCert. A self-signed certificate for the listen
// hosts (IP SANs for addresses, DNS SANs for names), subject O=etcd, valid one year (or
// --self-signed-cert-validity years), ECDSA P-521 signed with SHA-512 as Go signs with such a key,
// written to <dir>/cert.pem and <dir>/key.pem (mode 0600, "EC PRIVATE KEY"); files already there are
// used as they are. Node cannot build a certificate itself: @peculiar/x509 does it over WebCrypto,
// loaded only here, when a certificate is generated.
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface SelfCertFiles {
  certFile: string;
  keyFile: string;
}

/** `hosts` are the listen URLs' host:port (or host). */
export async function selfCert(
  dir: string,
  hosts: readonly string[],
  validityYears = 1,
): Promise<SelfCertFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-521', hash: 'SHA-512' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names: { type: 'ip' | 'dns'; value: string }[] = [];
  for (const hp of hosts) {
    const h = hostOf(hp);
    if (h === '') continue;
    names.push({ type: isIP(h) ? 'ip' : 'dns', value: h });
  }
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // positive
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'O=etcd',
    notBefore: new Date(now),
    notAfter: new Date(now + validityYears * 365 * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const sec1 = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    type: 'sec1',
    format: 'pem',
  });
  writeFileSync(certFile, cert.toString('pem') + '\n');
  writeFileSync(keyFile, sec1, { mode: 0o600 });
  return { certFile, keyFile };
}

/** The host of "host:port", "[v6]:port" or a bare host. */
function hostOf(hp: string): string {
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(hp);
  if (v6) return v6[1]!;
  if (isIP(hp) === 6) return hp;
  const i = hp.lastIndexOf(':');
  return i < 0 ? hp : hp.slice(0, i);
}
