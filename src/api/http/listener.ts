// One client port for gRPC and HTTP (etcd's cmux): each connection's first bytes decide. The HTTP/2
// prior-knowledge preface goes to grpc-js (injected, no proxy hop); anything else to the HTTP server.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type * as grpc from '@grpc/grpc-js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');

export interface ClientListener {
  close(): Promise<void>;
  port: number;
}

export function listenClient(
  host: string,
  port: number,
  grpcServer: grpc.Server,
  grpcCreds: grpc.ServerCredentials,
  http: HttpServer,
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
      socket.pause();
      socket.unshift(head);
      if (isH2) injector.injectConnection(socket);
      else {
        http.emit('connection', socket);
        socket.resume();
      }
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
