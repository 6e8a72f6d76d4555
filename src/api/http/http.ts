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
      case '/health':
        // etcd 3.4 writes the JSON without a content type, so Go sniffs text/plain. This answer knows
        // nothing of the member (api/http imports only the base): alarms and a lost leader are not seen.
        return answer(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ health: 'true' }));
      case '/version':
        return answer(
          res,
          200,
          'application/json',
          JSON.stringify({ etcdserver: SERVER_VERSION, etcdcluster: CLUSTER_VERSION }),
        );
      default:
        if (extra?.(req, res)) return;
        text(res, 404, '404 page not found\n');
    }
  });
}
