import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { listenClient, type ClientListener } from './listener.ts';
import { duplexPair } from './duplex_pair.ts';
import { PREFACE, type LocalCall, type StreamSink } from './h2_server.ts';
import { HeaderDecoder, encodeField } from './hpack.ts';
import { h2Frame } from '../../../test/helpers/h2.ts';

// One listener over a grpc-js server with no services: a forwarded call ends UNIMPLEMENTED
// (grpc-status 12), which proves grpc-js got and decoded the request. One local route, /l.L/Echo,
// answers from the front itself.
let listener: ClientListener;
const grpcServer = new grpc.Server();
const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
const httpServer = createHttpServer((req, res) => res.end(`plain http ${req.method} ${req.url}`));
let backendConnections = 0;

function echo(sink: StreamSink): LocalCall {
  const parts: Buffer[] = [];
  return {
    data: (c) => parts.push(Buffer.from(c)),
    end: () => sink.reply(Buffer.concat(parts).subarray(5)),
    cancel: () => {},
  };
}

before(async () => {
  listener = await listenClient(
    '127.0.0.1',
    0,
    {
      route: (head, sink) => (head.path === '/l.L/Echo' ? echo(sink) : undefined),
      connectBackend: () => {
        backendConnections++;
        const [front, back] = duplexPair();
        injector.injectConnection(back);
        return front;
      },
    },
    httpServer,
  );
});
after(async () => {
  await listener.close();
  grpcServer.forceShutdown();
  injector.destroy();
});

function httpBody(path: string): Promise<string> {
  return new Promise<string>((resolve, reject) =>
    httpGet(`http://127.0.0.1:${listener.port}${path}`, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve(b));
    }).on('error', reject),
  );
}

function grpcCall(client: grpc.Client, path: string, body: string): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(body),
      (e, v) => (e ? reject(e) : resolve(v!)),
    ),
  );
}

test('HTTP/1 goes to the HTTP server', async () => {
  assert.equal(await httpBody('/version'), 'plain http GET /version');
  // Keep-alive: a second request on whatever connection the agent reuses.
  assert.equal(await httpBody('/health'), 'plain http GET /health');
});

test('HTTP/2 goes to the front: local routes answered there, the rest forwarded to grpc-js', async () => {
  const client = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
  try {
    await assert.rejects(
      grpcCall(client, '/x.Y/Z', ''),
      (e: grpc.ServiceError) => e.code === grpc.status.UNIMPLEMENTED,
    );
    assert.equal((await grpcCall(client, '/l.L/Echo', 'local')).toString(), 'local');
  } finally {
    client.close();
  }
});

test('a Node http2 client with a URL :authority is forwarded too', async () => {
  const s = http2.connect(`http://127.0.0.1:${listener.port}`);
  try {
    const grpcStatus = await new Promise<string>((resolve, reject) => {
      const req = s.request({
        ':method': 'POST',
        ':path': '/x.Y/Z',
        ':authority': 'http://127.0.0.1:2379',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let code = '';
      req.on('response', (h) => (code = String(h['grpc-status'] ?? code)));
      req.on('trailers', (t) => (code = String(t['grpc-status'])));
      req.on('error', reject);
      req.on('close', () => (req.rstCode ? reject(new Error(`reset ${req.rstCode}`)) : resolve(code)));
      req.resume();
      req.end(Buffer.alloc(5));
    });
    assert.equal(grpcStatus, '12');
  } finally {
    s.destroy();
  }
});

/** Reads from `sock` until `done(all bytes so far)` holds, bounded in time. */
function readUntil(sock: Socket, done: (got: Buffer) => boolean, ms = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.off('data', onData);
      reject(new Error(`timed out with ${got.length} bytes`));
    }, ms);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (!done(got)) return;
      clearTimeout(t);
      sock.off('data', onData);
      resolve(got);
    };
    sock.on('data', onData);
  });
}

async function open(): Promise<Socket> {
  const sock = connect(listener.port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise((r) => sock.once('connect', r));
  sock.setNoDelay(true);
  return sock;
}

/** Writes `b` one byte at a time, each in its own packet. */
async function trickle(sock: Socket, b: Buffer): Promise<void> {
  for (const byte of b) {
    await new Promise<void>((r) => sock.write(Buffer.from([byte]), () => r()));
    await new Promise((r) => setTimeout(r, 1));
  }
}

const frame = h2Frame;

/** The header block of the first HEADERS frame on stream 1 in `got`, if it is all there. */
function firstHeaders(got: Buffer): Buffer | undefined {
  for (let p = 0; p + 9 <= got.length;) {
    const len = got.readUIntBE(p, 3);
    if (p + 9 + len > got.length) return undefined;
    if (got[p + 3] === 1 && got.readUInt32BE(p + 5) === 1) return got.subarray(p + 9, p + 9 + len);
    p += 9 + len;
  }
  return undefined;
}

test('a preface sent byte by byte still reaches the HTTP/2 front', async () => {
  const sock = await open();
  try {
    const before = backendConnections;
    await trickle(sock, PREFACE);
    const block = Buffer.concat(
      (
        [
          [':method', 'POST'],
          [':scheme', 'http'],
          [':path', '/x.Y/Z'],
          [':authority', 'localhost'],
          ['content-type', 'application/grpc'],
          ['te', 'trailers'],
        ] as const
      ).map(([n, v]) => encodeField(n, v)),
    );
    sock.write(
      Buffer.concat([
        frame(4, 0, 0, Buffer.alloc(0)),
        frame(1, 4, 1, block),
        frame(0, 1, 1, Buffer.alloc(5)),
      ]),
    );
    const got = await readUntil(sock, (g) => firstHeaders(g) !== undefined);
    // The server's SETTINGS comes first; then grpc-js's trailers-only UNIMPLEMENTED.
    assert.equal(got[3], 4, 'a SETTINGS frame first');
    assert.equal(got[4], 0, 'not an ACK');
    const fields = new HeaderDecoder().decode(firstHeaders(got)!);
    assert.ok(fields !== undefined);
    const h = Object.fromEntries(fields);
    assert.equal(h[':status'], '200');
    assert.equal(h['grpc-status'], '12');
    assert.equal(backendConnections, before + 1, 'one backend connection for the client connection');
  } finally {
    sock.destroy();
  }
});

test('HTTP/1 sent byte by byte goes to the HTTP server, also when it starts like the preface', async () => {
  const sock = await open();
  try {
    const answer = readUntil(sock, (g) => g.toString().includes('plain http GET /slow'));
    await trickle(sock, Buffer.from('GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.match((await answer).toString(), /^HTTP\/1\.1 200/);
  } finally {
    sock.destroy();
  }
  // A request that shares the preface's first byte ("P") is HTTP/1 all the same.
  const odd = await open();
  try {
    const answer = readUntil(odd, (g) => g.toString().includes('plain http PUT /p'));
    await trickle(odd, Buffer.from('PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'));
    assert.match((await answer).toString(), /^HTTP\/1\.1 200/);
  } finally {
    odd.destroy();
  }
});

test('close() ends open connections of both kinds', async () => {
  const l = await listenClient(
    '127.0.0.1',
    0,
    { route: () => undefined, connectBackend: () => duplexPair()[0] },
    createHttpServer(),
  );
  const a = connect(l.port, '127.0.0.1');
  const b = connect(l.port, '127.0.0.1');
  for (const s of [a, b]) {
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
  }
  a.write(PREFACE);
  b.write('GET / HTTP/1.1\r\n');
  // Both reach their server before close (the h2 one answers with SETTINGS).
  await readUntil(a, (g) => g.length >= 9);
  const closed = Promise.all([a, b].map((s) => new Promise((r) => s.once('close', r))));
  await l.close();
  await closed;
});
