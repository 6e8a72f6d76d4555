// tetcd and etcd 3.4 processes with TLS on their client (and peer) ports, for test/tls_*.test.ts: one
// CA and its certificates made in the test (helpers/certs.ts), members started with https:// URLs,
// waited for with an https GET /version (bounded), etcdctl run with --cacert/--cert/--key.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { certDir, makeCa, type Ca } from './certs.ts';
import { freePort, oneMemberArgs } from './procs.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface Pki {
  ca: Ca;
  dir: string;
  caFile: string;
  /** The server certificate (CN server, SANs 127.0.0.1 and localhost). */
  server: { cert: string; key: string };
  /** A client certificate with CN root. */
  client: { cert: string; key: string };
  /** A client certificate signed by another CA. */
  stranger: { cert: string; key: string };
  /** Certificates for peers: m1, m2, m3 (CN = name). */
  peer(name: string): Promise<{ cert: string; key: string }>;
  cleanup(): void;
}

export async function makePki(): Promise<Pki> {
  const ca = await makeCa();
  const d = certDir();
  const other = await makeCa('another CA');
  return {
    ca,
    dir: d.dir,
    caFile: d.file('ca.crt', ca.cert),
    server: d.write('server', await ca.issue('server')),
    client: d.write('client', await ca.issue('root')),
    stranger: d.write('stranger', await other.issue('root')),
    peer: async (name) => d.write(`peer-${name}`, await ca.issue(name)),
    cleanup: () => rmSync(d.dir, { recursive: true, force: true }),
  };
}

/** GET/POST over https with the client certificate (or none), resolved with status and body. */
export function httpsCall(
  url: string,
  pki: Pki,
  opts: { method?: string; body?: string; withCert?: boolean; timeoutMs?: number; alpn?: string[] } = {},
): Promise<{ status: number; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const withCert = opts.withCert ?? true;
    const options: RequestOptions & { ALPNProtocols?: string[] } = {
      method: opts.method ?? 'GET',
      ca: pki.ca.cert,
      ...(withCert ? { cert: readText(pki.client.cert), key: readText(pki.client.key) } : {}),
      timeout: opts.timeoutMs ?? 5000,
      agent: false,
      ALPNProtocols: opts.alpn ?? ['http/1.1'],
    };
    const req = request(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          alpn: (res.socket as TLSSocket).alpnProtocol ?? false,
        }),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

function readText(p: string): string {
  return readFileSync(p, 'utf8');
}

/** A TLS handshake to 127.0.0.1:port: the served certificate's fingerprint, or the error. */
export function handshake(
  port: number,
  opts: {
    ca?: string;
    cert?: string;
    key?: string;
    maxVersion?: 'TLSv1.2' | 'TLSv1.3';
    ALPN?: string[];
  } = {},
): Promise<{ fingerprint: string; cipher: string; protocol: string; alpn: string | false } | Error> {
  return new Promise((resolve) => {
    const s = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(opts.ca ? { ca: opts.ca } : {}),
      ...(opts.cert ? { cert: readText(opts.cert), key: readText(opts.key!) } : {}),
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
      ALPNProtocols: opts.ALPN ?? ['h2'],
    });
    const t = setTimeout(() => s.destroy(new Error('handshake timed out')), 5000);
    s.on('secureConnect', () => {
      clearTimeout(t);
      const r = {
        fingerprint: s.getPeerCertificate().fingerprint256,
        cipher: s.getCipher().standardName,
        protocol: s.getProtocol() ?? '',
        alpn: s.alpnProtocol ?? false,
      };
      s.end();
      resolve(r);
    });
    s.on('error', (e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

export interface TlsServer {
  kind: 'tetcd' | 'etcd';
  port: number;
  url: string;
  dataDir: string;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

/** Resolves once GET /version answers over https (any status), rejects if the process exits or time runs out. */
export async function waitHttps(
  url: string,
  pki: Pki,
  proc: ChildProcess,
  deadlineMs = 20_000,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before serving`);
    }
    try {
      await httpsCall(`${url}/version`, pki, { timeoutMs: 1000 });
      return;
    } catch {
      if (Date.now() > until) throw new Error(`${url} not serving after ${deadlineMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Spawns a process, keeping its stderr; killed by stop()/kill9(). */
export function spawnServer(
  kind: 'tetcd' | 'etcd',
  args: string[],
): { proc: ChildProcess; stderr: () => string } {
  const cmd = kind === 'tetcd' ? join(ROOT, 'bin/tetcd') : 'etcd';
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ETCD_')) env[k] = v;
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  return { proc, stderr: () => err };
}

/** One member serving clients over https with `tlsArgs` (certificates, --client-cert-auth, ...). */
export async function startTlsServer(
  kind: 'tetcd' | 'etcd',
  pki: Pki,
  tlsArgs: string[],
  wait = true,
): Promise<TlsServer> {
  const port = await freePort();
  const peer = `http://127.0.0.1:${await freePort()}`;
  const url = `https://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), `${kind}-tls-`));
  const args = [
    ...oneMemberArgs('n1', dataDir, url, peer),
    ...(kind === 'etcd' ? ['--logger', 'zap'] : []),
    '--log-level',
    kind === 'etcd' ? 'error' : 'info',
    ...tlsArgs,
  ];
  const { proc, stderr } = spawnServer(kind, args);
  const s: TlsServer = {
    kind,
    port,
    url,
    dataDir,
    proc,
    stderr,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited(proc);
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
  };
  if (wait) {
    try {
      await waitHttps(url, pki, proc);
    } catch (e) {
      await s.stop();
      throw new Error(`${(e as Error).message}\n${stderr().slice(-2000)}`);
    }
  }
  return s;
}

/** The TLS flags etcd and tetcd share: server certificate, CA, client certificate auth. */
export function serverTlsArgs(pki: Pki, clientCertAuth = true): string[] {
  return [
    '--cert-file',
    pki.server.cert,
    '--key-file',
    pki.server.key,
    '--trusted-ca-file',
    pki.caFile,
    ...(clientCertAuth ? ['--client-cert-auth'] : []),
  ];
}

/** etcdctl's TLS flags with the client certificate (or only the CA). */
export function ctlTls(pki: Pki, withCert = true): string[] {
  return [
    `--cacert=${pki.caFile}`,
    ...(withCert ? [`--cert=${pki.client.cert}`, `--key=${pki.client.key}`] : []),
  ];
}

/** Runs a process to its exit (killed at the deadline: code null). */
export function runToExit(
  cmd: string,
  args: string[],
  deadlineMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('ETCD_')) env[k] = v;
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, ETCDCTL_API: '3' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), deadlineMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every line of etcdctl's `watch` until `lines` lines came (or the deadline), then it is stopped. */
export function watchLines(
  endpoint: string,
  args: string[],
  lines: number,
  deadlineMs = 10_000,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('etcdctl', [`--endpoints=${endpoint}`, 'watch', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    const done = () => {
      clearTimeout(t);
      p.kill('SIGKILL');
      resolve(out.split('\n').filter(Boolean).slice(0, lines));
    };
    const t = setTimeout(done, deadlineMs);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').filter(Boolean).length >= lines) done();
    });
    p.on('error', reject);
  });
}
