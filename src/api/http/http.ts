// HTTP on the client port: /health and /version as etcd 3.4.23 answers them (its /livez and /readyz
// are 404: they came with 3.5).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CLUSTER_VERSION, SERVER_VERSION } from '../../pkg/version.ts';

/** etcd 3.4's client HTTP handlers answer with these (its --cors default "*"). */
const CORS = {
  'access-control-allow-headers': 'accept, content-type, authorization',
  'access-control-allow-methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'access-control-allow-origin': '*',
};

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { ...CORS, 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Go's http.Error, as etcd answers a refused request: text, nosniff, the body and a newline. */
function goError(
  res: ServerResponse,
  status: number,
  body: string,
  extra: Record<string, string> = {},
): void {
  const b = `${body}\n`;
  res.writeHead(status, {
    ...CORS,
    ...extra,
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(b),
  });
  res.end(b);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Whether the member is healthy as etcd 3.4's /health decides it: no alarm other than the excluded
 * ones (`?exclude=NOSPACE`), a leader, and a read through raft answered within a second. The member
 * side provides it; without one, /health always says true.
 */
export type HealthCheck = (excludedAlarms: ReadonlySet<string>) => Promise<boolean>;

export function createHttpServer(
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
  health?: HealthCheck,
): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/health':
      case '/version':
        if (req.method !== 'GET') return goError(res, 405, 'Method Not Allowed', { allow: 'GET' });
        if (url.pathname === '/version') {
          return answer(
            res,
            200,
            'application/json',
            JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
          );
        }
        return void (health ?? (() => Promise.resolve(true)))(
          new Set(url.searchParams.getAll('exclude')),
        ).then(
          // etcd 3.4 writes the JSON without a content type (Go sniffs text/plain), or as http.Error.
          (ok) =>
            ok
              ? answer(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ health: 'true' }))
              : goError(res, 503, JSON.stringify({ health: 'false' })),
          () => goError(res, 503, JSON.stringify({ health: 'false' })),
        );
      default:
        if (extra?.(req, res)) return;
        text(res, 404, '404 page not found\n');
    }
  });
}
