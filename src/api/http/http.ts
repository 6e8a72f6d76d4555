// HTTP on the client port: /health, /livez, /readyz, /version (etcd's shapes).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CLUSTER_VERSION, SERVER_VERSION } from '../../pkg/version.ts';

function json(res: ServerResponse, status: number, body: unknown): void {
  const b = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
  res.end(b);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function createHttpServer(extra?: (req: IncomingMessage, res: ServerResponse) => boolean): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    switch (url.pathname) {
      case '/health': {
        // A single voter always has a leader (itself); alarms are not raised yet.
        return json(res, 200, { health: 'true', reason: '' });
      }
      case '/livez':
      case '/readyz':
        return text(
          res,
          200,
          url.searchParams.has('verbose') ? `[+]serializable_read ok\n[+]data_corruption ok\nok\n` : 'ok\n',
        );
      case '/version':
        return json(res, 200, {
          etcdserver: SERVER_VERSION,
          etcdcluster: CLUSTER_VERSION.replace(/\.\d+$/, '.0'),
        });
      default:
        if (extra?.(req, res)) return;
        text(res, 404, '404 page not found\n');
    }
  });
}
