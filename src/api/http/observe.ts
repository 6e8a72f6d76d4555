// What an operator reads from a member over HTTP besides its health: /metrics (Prometheus text),
// /debug/vars (etcd's expvar page: command line, file descriptor limit, memory, raft status) and, with
// --enable-pprof, the Node equivalents of etcd's /debug/pprof/ profiles: a CPU profile over N seconds
// and a heap snapshot, both files that Chrome DevTools opens.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Session } from 'node:inspector';
import { getHeapSnapshot } from 'node:v8';
import { fdLimit, scrape } from '../../pkg/metrics.ts';

export interface ObserveOptions {
  /** --enable-pprof: serve /debug/pprof/. */
  pprof: boolean;
  /** The raft status for /debug/vars ("raft.status", as etcd shows it). */
  raftStatus?: () => unknown;
}

/** Longest CPU profile one request may ask for (etcd's pprof takes any; a bound keeps a request finite). */
const MAX_PROFILE_SECONDS = 300;

export type Route = (req: IncomingMessage, res: ServerResponse) => boolean;

/** A route for /metrics, /debug/vars and, when enabled, /debug/pprof/*; false for other paths. */
export function observeRoutes(opts: ObserveOptions): Route {
  let profiling = false;
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/metrics':
        scrape().then(
          ({ body, contentType }) => send(res, 200, contentType, body),
          (err: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${String(err)}\n`),
        );
        return true;
      case '/debug/vars':
        send(res, 200, 'application/json; charset=utf-8', debugVars(opts));
        return true;
    }
    if (!opts.pprof || !url.pathname.startsWith('/debug/pprof')) return false;
    switch (url.pathname) {
      case '/debug/pprof':
      case '/debug/pprof/':
        send(
          res,
          200,
          'text/plain; charset=utf-8',
          'profile?seconds=N  CPU profile (.cpuprofile, open in Chrome DevTools > Performance)\n' +
            'heap               heap snapshot (.heapsnapshot, open in Chrome DevTools > Memory)\n',
        );
        return true;
      case '/debug/pprof/profile': {
        const raw = url.searchParams.get('seconds') ?? '30';
        const seconds = Number(raw);
        if (!/^\d+$/.test(raw) || seconds < 1 || seconds > MAX_PROFILE_SECONDS) {
          send(res, 400, 'text/plain; charset=utf-8', `seconds must be 1..${MAX_PROFILE_SECONDS}\n`);
        } else if (profiling) {
          send(res, 409, 'text/plain; charset=utf-8', 'a CPU profile is already being taken\n');
        } else {
          profiling = true;
          cpuProfile(seconds * 1000, res).then(
            (body) => {
              profiling = false;
              res.setHeader('content-disposition', 'attachment; filename="tetcd.cpuprofile"');
              send(res, 200, 'application/json', body);
            },
            (err: unknown) => {
              profiling = false;
              send(res, 500, 'text/plain; charset=utf-8', `${String(err)}\n`);
            },
          );
        }
        return true;
      }
      case '/debug/pprof/heap': {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-disposition': 'attachment; filename="tetcd.heapsnapshot"',
        });
        const snap = getHeapSnapshot();
        snap.pipe(res);
        res.once('close', () => snap.destroy());
        return true;
      }
      default:
        send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
        return true;
    }
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function debugVars(opts: ObserveOptions): string {
  const vars: Record<string, unknown> = {
    cmdline: process.argv,
    file_descriptor_limit: fdLimit(),
    memstats: { ...process.memoryUsage(), ...process.resourceUsage() },
  };
  if (opts.raftStatus) vars['raft.status'] = opts.raftStatus();
  return `${JSON.stringify(vars, null, 1)}\n`;
}

/** A V8 CPU profile of `ms` milliseconds (ended early, and not sent, if the client goes away). */
function cpuProfile(ms: number, res: ServerResponse): Promise<string> {
  const s = new Session();
  s.connect();
  const post = <T>(method: string): Promise<T> =>
    new Promise((resolve, reject) => s.post(method, (err, res) => (err ? reject(err) : resolve(res as T))));
  return (async () => {
    try {
      await post('Profiler.enable');
      await post('Profiler.start');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        // The response closes before it is ended only when the client goes away.
        res.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      return JSON.stringify(profile);
    } finally {
      s.disconnect();
    }
  })();
}
