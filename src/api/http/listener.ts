// One client port for gRPC and HTTP (etcd's cmux): each connection's first bytes decide. The HTTP/2
// prior-knowledge preface goes to the HTTP/2 front (h2_server.ts); anything else to the HTTP server.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { PREFACE, serveH2, type H2FrontOptions } from './h2_server.ts';

export interface ClientListener {
  close(): Promise<void>;
  port: number;
}

export function listenClient(
  host: string,
  port: number,
  h2: H2FrontOptions,
  http: HttpServer,
): Promise<ClientListener> {
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
      if (isH2) return void serveH2(socket, head, h2);
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
            for (const s of sockets) s.destroy();
            net.close(() => r());
          }),
      });
    });
  });
}
