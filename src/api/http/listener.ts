// One client port for gRPC and HTTP (etcd's cmux): each connection's first bytes decide. The HTTP/2
// prior-knowledge preface goes to the HTTP/2 front (h2_server.ts); anything else to the HTTP server.
// The port serves at most maxConnections at once (more are closed as they are accepted; an HTTP/2
// connection ended by a GOAWAY no longer counts while its socket lingers), and a connection that
// has not shown which it is within the preface timeout is closed.
//
// With TLS (an https:// listen URL) each accepted connection first goes through a TLS handshake
// (bounded by the preface timeout, counted among the connections), with ALPN: a client that offers
// http/1.1 gets it (curl, browsers: the gateway, /health, /metrics), one that offers only h2 gets h2
// (every gRPC client); then the same sniffing runs on the decrypted stream. The credentials are
// read again when their files change (pkg/tls.ts TlsSource), checked once per accepted connection.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Server as HttpServer } from 'node:http';
import {
  certRefusal,
  commonName,
  handshakeError,
  requiresClientCert,
  type TlsSource,
} from '../../pkg/tls.ts';
import {
  PREFACE,
  resolveLimits,
  serveH2,
  type ConnInfo,
  type H2Connection,
  type H2FrontOptions,
  type H2Limits,
} from './h2_server.ts';

/** How long close() lets HTTP/2 streams already running finish before it cuts every connection. */
const CLOSE_GRACE_MS = 2000;

export interface ClientListener {
  close(): Promise<void>;
  port: number;
}

/** Connections a held listener keeps (paused) until it is served; more are closed. */
const MAX_HELD_CONNECTIONS = 1024;

/**
 * A port bound before the member is ready (etcd binds its listeners before it touches the data dir):
 * connections that arrive meanwhile are held, paused, and handed to the server once it serves, so a
 * client that saw the port open is served rather than refused.
 */
export class HeldListener {
  private held: Socket[] = [];
  private handler: ((s: Socket) => void) | undefined;

  private constructor(readonly server: NetServer) {
    server.on('connection', (s) => {
      if (this.handler) return this.handler(s);
      if (this.held.length >= MAX_HELD_CONNECTIONS) return void s.destroy();
      s.pause();
      s.on('error', () => s.destroy());
      this.held.push(s);
    });
  }

  /** Binds host:port; rejects with the listen error (EADDRINUSE, ...). */
  static bind(host: string, port: number): Promise<HeldListener> {
    const server = createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve(new HeldListener(server));
      });
    });
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** From now on every connection goes to `handler`, those held first. */
  serve(handler: (s: Socket) => void): void {
    this.handler = handler;
    const held = this.held;
    this.held = [];
    for (const s of held) {
      if (s.destroyed) continue;
      handler(s);
      s.resume();
    }
  }

  close(): Promise<void> {
    for (const s of this.held) s.destroy();
    this.held = [];
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** TLS on a client port: the credentials, and where refused handshakes are reported. */
export interface ClientTls {
  source: TlsSource;
  /** A handshake refused or failed (etcd logs "rejected connection from ..."). */
  onReject?(remote: string, reason: string): void;
}

/** ALPN: http/1.1 when the client offers it (the gateway and the HTTP endpoints), else h2 (gRPC). */
function chooseProtocol({ protocols }: { protocols: string[] }): string | undefined {
  if (protocols.includes('http/1.1')) return 'http/1.1';
  return protocols.includes('h2') ? 'h2' : undefined;
}

/** The tls.Server that handshakes the connections a client port accepted (it never listens). */
function tlsFront(tls: ClientTls, limits: H2Limits, secure: (s: TLSSocket) => void): TlsServer {
  const info = tls.source.info;
  const requestCert = requiresClientCert(info);
  const server = createTlsServer({
    ...tls.source.options,
    requestCert,
    rejectUnauthorized: requestCert,
    ALPNCallback: chooseProtocol,
    handshakeTimeout: limits.prefaceTimeoutMs,
  });
  const reject = (s: TLSSocket, reason: string) => {
    tls.onReject?.(`${s.remoteAddress}:${s.remotePort}`, reason);
    s.destroy();
  };
  server.on('tlsClientError', (err: Error, s: TLSSocket) => reject(s, handshakeError(err)));
  server.on('secureConnection', (s: TLSSocket) => {
    const refused = certRefusal(info, s.authorized ? s.getPeerCertificate() : undefined);
    if (refused !== undefined) return reject(s, refused);
    secure(s);
  });
  return server;
}

export async function listenClient(
  host: string,
  port: number,
  h2: H2FrontOptions,
  http: HttpServer,
  bound?: HeldListener,
  tls?: ClientTls,
): Promise<ClientListener> {
  const limits = resolveLimits(h2.limits);
  const sockets = new Set<Socket>();
  const h2conns = new Set<H2Connection>();
  /** Set by close(): called when the last HTTP/2 connection has gone. */
  let drained: (() => void) | undefined;
  /** Connections served now. */
  let live = 0;
  /** The first bytes decide: HTTP/2 (gRPC) or HTTP/1.1. `socket` is the TCP or the TLS socket. */
  const sniff = (socket: Socket, uncount: () => void, info: ConnInfo): void => {
    const timer = setTimeout(() => socket.destroy(), limits.prefaceTimeoutMs).unref();
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const isH2 = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && head.length < PREFACE.length) return; // need more bytes to be sure
      clearTimeout(timer);
      socket.off('data', onData);
      if (isH2) {
        const c = serveH2(socket, head, h2.route, limits, uncount, info);
        h2conns.add(c);
        socket.on('close', () => {
          h2conns.delete(c);
          if (h2conns.size === 0) drained?.();
        });
        return;
      }
      socket.pause();
      socket.unshift(head);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(timer));
  };
  const front =
    tls &&
    tlsFront(tls, limits, (s) => {
      const cn = s.authorized ? commonName(s.getPeerCertificate()) : '';
      // A TLS connection counts until its TCP socket closes (a lingering GOAWAY included).
      sniff(s, () => {}, {
        remoteAddress: `${s.remoteAddress}:${s.remotePort}`,
        ...(cn !== '' ? { certCommonName: cn } : {}),
      });
    });
  const onConnection = (socket: Socket): void => {
    if (live >= limits.maxConnections) {
      socket.destroy();
      return;
    }
    live++;
    let counted = true;
    const uncount = () => {
      if (counted) live--;
      counted = false;
    };
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      uncount();
    });
    socket.setNoDelay(true);
    if (front !== undefined) {
      const fresh = tls!.source.refresh();
      if (fresh !== undefined) front.setSecureContext(fresh);
      socket.on('error', () => socket.destroy());
      front.emit('connection', socket);
      return;
    }
    sniff(socket, uncount, { remoteAddress: `${socket.remoteAddress}:${socket.remotePort}` });
  };
  const held = bound ?? (await HeldListener.bind(host, port));
  const net = held.server;
  held.serve(onConnection);
  return {
    port: held.port,
    // Stops accepting, lets HTTP/2 streams already running finish (GOAWAY, at most the grace
    // period), then cuts whatever is left.
    close: () =>
      new Promise<void>((r) => {
        net.close(() => r());
        const cut = () => {
          clearTimeout(t);
          for (const s of sockets) s.destroy();
        };
        const t = setTimeout(cut, CLOSE_GRACE_MS);
        t.unref();
        drained = cut;
        for (const c of h2conns) c.shutdown();
        if (h2conns.size === 0) cut();
      }),
  };
}
