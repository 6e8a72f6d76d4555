// Real server processes for process-level tests: tetcd (bin/tetcd) and etcd 3.4, on loopback ports,
// in temp dirs, with bounded waits. Every handle must be stopped in an after() hook.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { get as httpGet } from 'node:http';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Ports this process handed out: the kernel may give a released port again, and two members
 * given the same port collide (same peer URL, same member ID). */
const handedOut = new Set<number>();

/** A port free now on 127.0.0.1, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.unref();
      s.on('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export function haveEtcd(): boolean {
  const ok = ['etcd', 'etcdctl'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
  if (!ok) {
    console.error(
      '\n' +
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' +
        '!!  etcd / etcdctl 3.4 NOT INSTALLED: compatibility tests against etcd SKIPPED  !!\n' +
        '!!  apt-get install -y etcd-client etcd-server   (CI always installs them)       !!\n' +
        '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n',
    );
  }
  return ok;
}

/**
 * Resolves once the member on `port` (127.0.0.1) serves: an HTTP answer to GET /version. A bound port
 * is not enough: tetcd, like etcd, binds its client port before the member has started and holds the
 * connections made meanwhile. Rejects if `proc` exits first or time runs out.
 */
export function waitPort(port: number, deadlineMs: number, proc: ChildProcess): Promise<void> {
  const until = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (proc.exitCode !== null || proc.signalCode !== null)
        return reject(new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before serving`));
      const retry = () => {
        if (Date.now() > until) reject(new Error(`port ${port} not serving after ${deadlineMs} ms`));
        else setTimeout(attempt, 50);
      };
      const req = httpGet(
        { host: '127.0.0.1', port, path: '/version', agent: false, timeout: 500 },
        (res) => {
          res.resume();
          resolve();
        },
      );
      req.once('timeout', () => req.destroy(new Error('no answer yet')));
      req.once('error', retry);
    };
    attempt();
  });
}

/** The flags of a one-member cluster (etcd's or tetcd's): name, data dir, client and peer URLs. */
export function oneMemberArgs(name: string, dataDir: string, clientUrl: string, peerUrl: string): string[] {
  return [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `${name}=${peerUrl}`,
  ];
}

export interface ServerHandle {
  kind: 'tetcd' | 'etcd';
  endpoint: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM, then SIGKILL after a bound. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  /** Starts again on the same port and data dir (optionally with other extra environment). */
  restart(env?: Record<string, string>): Promise<ServerHandle>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => p.once('exit', () => r()));
}

async function launch(
  kind: 'tetcd' | 'etcd',
  port: number,
  dataDir: string,
  extraArgs: string[],
  env: Record<string, string>,
  /** How long the server may take to serve (a big data dir's restart takes longer). */
  startMs = 20_000,
): Promise<ServerHandle> {
  const url = `http://127.0.0.1:${port}`;
  let cmd: string;
  let args: string[];
  if (kind === 'tetcd') {
    cmd = join(ROOT, 'bin/tetcd');
    args = [
      '--name',
      'n1',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--log-level',
      'error',
    ];
  } else {
    const peer = `http://127.0.0.1:${await freePort()}`;
    cmd = 'etcd';
    args = [...oneMemberArgs('n1', dataDir, url, peer), '--logger', 'zap', '--log-level', 'error'];
  }
  const proc = spawn(cmd, [...args, ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  await waitPort(port, startMs, proc);
  const h: ServerHandle = {
    kind,
    endpoint: `127.0.0.1:${port}`,
    port,
    dataDir,
    proc,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited(proc);
      clearTimeout(t);
    },
    async kill9() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    restart: (envOverride?: Record<string, string>) =>
      launch(kind, port, dataDir, extraArgs, envOverride ?? env, startMs),
    async destroy() {
      await h.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

export async function startServer(
  kind: 'tetcd' | 'etcd',
  opts: { args?: string[]; env?: Record<string, string>; startMs?: number } = {},
): Promise<ServerHandle> {
  const dataDir = mkdtempSync(join(tmpdir(), `${kind}-test-`));
  return launch(kind, await freePort(), dataDir, opts.args ?? [], opts.env ?? {}, opts.startMs);
}

export interface CtlResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs etcdctl (v3 API) against `endpoint`, with `input` on stdin. */
export function etcdctl(endpoint: string, args: string[], input?: string): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      'etcdctl',
      [`--endpoints=${endpoint}`, '--command-timeout=5s', '--dial-timeout=3s', ...args],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
    // etcdctl may exit before reading its stdin (a command that takes none, on a loaded machine):
    // the pipe's EPIPE is not the command's result.
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}
