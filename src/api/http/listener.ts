// One client port for gRPC and HTTP (etcd's cmux): each connection's first bytes decide. The HTTP/2
// prior-knowledge preface goes to grpc-js (injected, no proxy hop); anything else to the HTTP server.
// An HTTP/2 client is answered with an empty SETTINGS frame at once and held until its first header
// block: if its `:authority` is one Node refuses (a URL, from etcdctl 3.4), the connection goes to
// grpc-js through the rewriter of h2_authority.ts; otherwise the raw socket is injected as before.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Server as HttpServer } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import { ClientStreamRewriter, EMPTY_SETTINGS, PREFACE } from './h2_authority.ts';

/** An HTTP/2 client that sends no request this long after the preface is injected as it is. */
const H2_HEAD_WAIT_MS = 1000;
/** At most this much of an HTTP/2 connection is held before it is injected. */
const H2_HEAD_LIMIT = 64 * 1024;

export interface ClientListener {
  close(): Promise<void>;
  port: number;
}

type Injector = ReturnType<grpc.Server['createConnectionInjector']>;

export function listenClient(
  host: string,
  port: number,
  grpcServer: grpc.Server,
  grpcCreds: grpc.ServerCredentials,
  http: HttpServer,
  h2HeadWaitMs = H2_HEAD_WAIT_MS,
): Promise<ClientListener> {
  const injector = grpcServer.createConnectionInjector(grpcCreds);
  const sockets = new Set<Socket>();
  const net: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, PREFACE.length);
      const isH2 = head.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isH2 && head.length < PREFACE.length) return; // need more bytes to be sure
      socket.off('data', onData);
      if (isH2) return holdH2(socket, head, injector, h2HeadWaitMs);
      socket.pause();
      socket.unshift(head);
      http.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    net.once('error', reject);
    net.listen(port, host, () => {
      net.off('error', reject);
      resolve({
        port: (net.address() as { port: number }).port,
        close: () =>
          new Promise<void>((r) => {
            injector.destroy();
            for (const s of sockets) s.destroy();
            net.close(() => r());
          }),
      });
    });
  });
}

/**
 * Answers the preface with an empty SETTINGS frame and reads the client's bytes through a rewriter
 * until the client has ACKed it and sent its first header block (or the wait or size bound is hit).
 * Then the raw socket is injected with the bytes read so far put back (the rewriter dropped only
 * the ACK), unless an `:authority` had to be rewritten or the ACK is still to come: then grpc-js
 * gets a stream that keeps rewriting.
 */
function holdH2(socket: Socket, head: Buffer, injector: Injector, waitMs: number): void {
  const rw = new ClientStreamRewriter();
  const out: Buffer[] = [];
  let held = 0;
  const settle = () => {
    clearTimeout(timer);
    if (socket.destroyed) return;
    socket.off('data', onData);
    socket.off('close', onClose);
    socket.pause();
    out.push(rw.leftover());
    const bytes = Buffer.concat(out);
    if (rw.broken || (rw.ackDropped && !rw.rewrote)) {
      socket.unshift(bytes);
      injector.injectConnection(socket);
    } else injector.injectConnection(rewriting(socket, rw, bytes));
  };
  const onData = (chunk: Buffer) => {
    const b = rw.push(chunk);
    out.push(b);
    held += b.length;
    if (rw.broken || (rw.ackDropped && rw.headerBlocks > 0)) settle();
    else if (held + rw.leftover().length > H2_HEAD_LIMIT) settle();
  };
  const onClose = () => clearTimeout(timer);
  const timer = setTimeout(settle, waitMs);
  timer.unref();
  socket.on('close', onClose);
  socket.on('data', onData);
  socket.write(EMPTY_SETTINGS);
  onData(head);
}

/** The socket as grpc-js sees it: client bytes through `rw`, server bytes untouched. */
function rewriting(socket: Socket, rw: ClientStreamRewriter, head: Buffer): Duplex {
  const d = new Duplex({
    read: () => void socket.resume(),
    write: (chunk: Buffer, _enc, cb) => void socket.write(chunk, cb),
    final: (cb) => {
      socket.end();
      cb();
    },
    destroy: (err, cb) => {
      socket.destroy();
      cb(err);
    },
  });
  if (head.length > 0) d.push(head);
  socket.on('data', (chunk: Buffer) => {
    const b = rw.push(chunk);
    if (b.length > 0 && !d.push(b)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  return d;
}
