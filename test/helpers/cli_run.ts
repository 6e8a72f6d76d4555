// bin/tetcd as an operator runs it: to completion (a refusal, --help, --version) or until its client
// port answers. Every wait has a deadline; a process still running at its deadline is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { waitPort } from './procs.ts';

const BIN = new URL('../../bin/tetcd', import.meta.url).pathname;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Environment without the caller's ETCD_* variables (they would be read as flags). */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ETCD_')) out[k] = v;
  return { ...out, ...env };
}

function spawnTetcd(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs tetcd to its exit (killed at the deadline: code null). */
export function runTetcd(
  args: string[],
  env: Record<string, string> = {},
  deadlineMs = 15_000,
): Promise<RunResult> {
  const t0 = Date.now();
  const p = spawnTetcd(args, env);
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const t = setTimeout(() => p.kill('SIGKILL'), deadlineMs);
  return new Promise((resolve) =>
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    }),
  );
}

export interface Running {
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts tetcd and resolves once `port` accepts connections (rejects if it exits first). */
export async function startTetcd(
  args: string[],
  env: Record<string, string>,
  port: number,
  deadlineMs = 20_000,
): Promise<Running> {
  const p = spawnTetcd(args, env);
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  const h: Running = {
    proc: p,
    stderr: () => stderr,
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  try {
    await waitPort(port, deadlineMs, p);
  } catch (e) {
    await h.stop();
    throw new Error(`${(e as Error).message}; stderr:\n${stderr}`);
  }
  return h;
}

/** The lines of stderr that are not JSON log lines: what tetcd says to the operator. */
export function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
}

/** The messages of the JSON log lines at `level`. */
export function logMessages(stderr: string, level: string): string[] {
  const out: string[] = [];
  for (const l of stderr.split('\n')) {
    if (!l.startsWith('{')) continue;
    const j = JSON.parse(l) as { level?: string; msg?: string };
    if (j.level === level && j.msg !== undefined) out.push(j.msg);
  }
  return out;
}
