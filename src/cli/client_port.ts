// The ports a member serves clients on, put together from the layers below: the client port (gRPC on
// HTTP/2 through the one router, and HTTP/1.1 beside it: the JSON gateway, /health, /version,
// /metrics, /debug/), and the optional --listen-metrics-urls ports (/metrics and /health, as etcd
// serves them there).
import type { Logger } from 'pino';
import type { ClientApi } from '../server/api.ts';
import { clientRouter, maxReceiveBytes } from '../api/grpc/server.ts';
import { healthCheck } from '../api/grpc/health_http.ts';
import { createGateway } from '../api/gateway/gateway.ts';
import { createHttpServer } from '../api/http/http.ts';
import { observeRoutes } from '../api/http/observe.ts';
import { HeldListener, listenClient } from '../api/http/listener.ts';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { TlsSource } from '../pkg/tls.ts';
import { commonName, requiresClientCert } from '../pkg/tls.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { H2LimitOptions } from '../api/http/limits.ts';

export interface ClientServer {
  port: number;
  close(): Promise<void>;
}

/** What the client port serves over HTTP/1.1 besides the gateway and health. */
export interface HttpOptions {
  /** --enable-pprof: /debug/pprof/ (a CPU profile, a heap snapshot). */
  pprof?: boolean;
}

export async function startClientServer(
  srv: ClientApi,
  log: Logger,
  host: string,
  port: number,
  limits?: H2LimitOptions,
  httpOpts: HttpOptions = {},
  bound?: HeldListener,
  tls?: TlsSource,
): Promise<ClientServer> {
  const { router, close } = clientRouter(srv, log);
  // HTTP/1.1 requests under /v3/ go to the JSON gateway, which calls the same handlers; /metrics and
  // /debug/ to the observation routes.
  const gateway = createGateway(router, { maxReceiveBytes: maxReceiveBytes(srv), log });
  const observe = observeRoutes({ pprof: httpOpts.pprof ?? false, raftStatus: () => srv.raftStatus() });
  const cnCheck = tls?.info.clientCertAuth === true;
  const http = createHttpServer(
    (req, res) => (cnCheck && gatewayRefusesCn(srv, req, res)) || gateway(req, res) || observe(req, res),
    healthCheck(srv),
  );
  const listener = await listenClient(
    host,
    port,
    limits ? { route: router.route, limits } : { route: router.route },
    http,
    bound,
    tls && {
      source: tls,
      onReject: (remote, reason) => log.info({ remote, error: reason }, 'rejected connection'),
    },
  );
  return {
    port: listener.port,
    async close() {
      close();
      await listener.close();
      http.close();
    },
  };
}

/**
 * etcd 3.4 (embed/serve.go): with --client-cert-auth and auth enabled, a /v3/ (or /v3beta/) request
 * over TLS whose verified certificate carries a CN is answered 400, since the gateway would not take
 * the CN as the user; Go's http.Error text.
 */
function gatewayRefusesCn(srv: ClientApi, req: IncomingMessage, res: ServerResponse): boolean {
  const path = req.url ?? '/';
  if (!path.startsWith('/v3/') && !path.startsWith('/v3beta/')) return false;
  const s = req.socket as TLSSocket;
  if (s.encrypted !== true || !s.authorized || !srv.auth.enabled) return false;
  if (commonName(s.getPeerCertificate()) === '') return false;
  res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(
    'CommonName of client sending a request against gateway will be ignored and not used as expected\n',
  );
  return true;
}

/** A --listen-metrics-urls port: HTTP/1.1 with /metrics and /health (and /version). */
export async function startMetricsServer(
  srv: ClientApi,
  host: string,
  port: number,
  bound?: HeldListener,
  tls?: TlsSource,
): Promise<ClientServer> {
  const observe = observeRoutes({ pprof: false });
  const http = createHttpServer(
    (req, res) => (req.url ?? '/').split('?')[0] === '/metrics' && observe(req, res),
    healthCheck(srv),
  );
  const held = bound ?? (await HeldListener.bind(host, port));
  if (tls === undefined) {
    held.serve((socket) => http.emit('connection', socket));
  } else {
    // https:// metrics URLs use the client credentials, as etcd's do; HTTP/1.1 only.
    const requestCert = requiresClientCert(tls.info);
    const front = createTlsServer({
      ...tls.options,
      requestCert,
      rejectUnauthorized: requestCert,
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: 5000,
    });
    front.on('secureConnection', (s: TLSSocket) => http.emit('connection', s));
    front.on('tlsClientError', (_e: Error, s: TLSSocket) => s.destroy());
    held.serve((socket) => {
      const fresh = tls.refresh();
      if (fresh !== undefined) front.setSecureContext(fresh);
      socket.on('error', () => socket.destroy());
      front.emit('connection', socket);
    });
  }
  return {
    port: held.port,
    async close() {
      await held.close();
      http.close();
    },
  };
}
