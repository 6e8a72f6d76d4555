// Certificates for TLS tests, made in the test (never with the openssl binary, which CI may lack): a CA,
// and server, peer and client certificates it signs, ECDSA P-256 through WebCrypto and @peculiar/x509
// (the library tetcd's --auto-tls uses), written as PEM files into a directory.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Pem {
  cert: string;
  key: string;
}

export interface Ca extends Pem {
  /** Signs a leaf certificate for `cn` with the given SANs (IPs and DNS names). */
  issue(cn: string, opts?: LeafOptions): Promise<Pem>;
  /** A CRL (PEM) revoking the certificates with these serial numbers (hex). */
  crl(serials: string[]): Promise<string>;
}

export interface LeafOptions {
  ips?: string[];
  dns?: string[];
  /** Serial number in hex (a random one by default). */
  serial?: string;
  /** Validity starts/ends relative to now, in days. */
  fromDays?: number;
  toDays?: number;
}

let serialCounter = 1;

function serial(): string {
  return (0x10_0000 + serialCounter++).toString(16) + Math.floor(Math.random() * 0xffff).toString(16);
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(k: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', k), 'PRIVATE KEY');
}

/** A self-signed CA named `cn`. */
export async function makeCa(cn = 'tetcd test CA'): Promise<Ca> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 3650 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: cert.toString('pem'),
    key: await keyPem(keys.privateKey),
    async crl(serials) {
      const crl = await x509.X509CrlGenerator.create({
        issuer: cert.subject,
        thisUpdate: new Date(Date.now() - DAY),
        nextUpdate: new Date(Date.now() + 30 * DAY),
        entries: serials.map((serialNumber) => ({
          serialNumber,
          revocationDate: new Date(Date.now() - DAY),
        })),
        signingKey: keys.privateKey,
        signingAlgorithm: ALG,
        extensions: [await x509.AuthorityKeyIdentifierExtension.create(cert)],
      });
      // OpenSSL (and Go's ParseCRL) want the X509 CRL label.
      return x509.PemConverter.encode(crl.rawData, 'X509 CRL');
    },
    async issue(leafCn, opts = {}) {
      const leaf = await keyPair();
      const names: x509.JsonGeneralName[] = [
        ...(opts.ips ?? ['127.0.0.1']).map((value) => ({ type: 'ip' as const, value })),
        ...(opts.dns ?? ['localhost']).map((value) => ({ type: 'dns' as const, value })),
      ];
      const c = await x509.X509CertificateGenerator.create({
        serialNumber: opts.serial ?? serial(),
        subject: `CN=${leafCn}`,
        issuer: cert.subject,
        notBefore: new Date(Date.now() + (opts.fromDays ?? -1) * DAY),
        notAfter: new Date(Date.now() + (opts.toDays ?? 365) * DAY),
        signingKey: keys.privateKey,
        publicKey: leaf.publicKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
            true,
          ),
          new x509.ExtendedKeyUsageExtension(
            [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
            false,
          ),
          new x509.SubjectAlternativeNameExtension(names),
          await x509.AuthorityKeyIdentifierExtension.create(cert),
        ],
      });
      return { cert: c.toString('pem'), key: await keyPem(leaf.privateKey) };
    },
  };
}

/** A temp directory for PEM files; `write` returns the paths. */
export function certDir(prefix = 'tetcd-tls-'): {
  dir: string;
  write(name: string, pem: Pem): { cert: string; key: string };
  file(name: string, text: string): string;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    write(name, pem) {
      const cert = join(dir, `${name}.crt`);
      const key = join(dir, `${name}.key`);
      writeFileSync(cert, pem.cert);
      writeFileSync(key, pem.key, { mode: 0o600 });
      return { cert, key };
    },
    file(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
  };
}

/** The SHA-256 fingerprint of a PEM certificate, as node:tls shows a peer's (fingerprint256). */
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
