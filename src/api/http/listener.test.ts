import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import { HeldListener, listenClient, type ClientListener } from './listener.ts';
import { PREFACE, type LocalCall, type RequestHead, type StreamSink } from './h2_server.ts';
import { HeaderDecoder, encodeField } from './hpack.ts';
import { h2Frame } from '../../../test/helpers/h2.ts';

// One listener whose HTTP/2 route answers /l.L/Echo with the request and every other path
// UNIMPLEMENTED (grpc-status 12); the HTTP/1 server answers with the request line.
let listener: ClientListener;
const httpServer = createHttpServer((req, res) => res.end(`plain http ${req.method} ${req.url}`));
/** Paths the HTTP/2 route was given, in order. */
const routed: string[] = [];

function route(head: RequestHead, sink: StreamSink): LocalCall {
  routed.push(head.path);
  if (head.path === '/l.L/Echo') return echo(sink);
  sink.fail(12, `unknown ${head.path}`);
  return { data() {}, end() {}, cancel() {} };
}

function echo(sink: StreamSink): LocalCall {
  const parts: Buffer[] = [];
  return {
    data: (c) => void parts.push(Buffer.from(c)),
    end: () => sink.reply(Buffer.concat(parts).subarray(5)),
    cancel: () => {},
  };
}

before(async () => {
  listener = await listenClient('127.0.0.1', 0, { route }, httpServer);
});
after(async () => {
  await listener.close();
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

/** One gRPC-shaped POST over Node's http2 client: the grpc-status and the body. */
function h2Call(path: string, body: Buffer, authority?: string): Promise<{ code: string; body: Buffer }> {
  const s = http2.connect(`http://127.0.0.1:${listener.port}`);
  return new Promise<{ code: string; body: Buffer }>((resolve, reject) => {
    const req = s.request({
      ':method': 'POST',
      ':path': path,
      ...(authority === undefined ? {} : { ':authority': authority }),
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let code = '';
    const parts: Buffer[] = [];
    req.on('response', (h) => (code = String(h['grpc-status'] ?? code)));
    req.on('trailers', (t) => (code = String(t['grpc-status'])));
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', reject);
    req.on('close', () =>
      req.rstCode ? reject(new Error(`reset ${req.rstCode}`)) : resolve({ code, body: Buffer.concat(parts) }),
    );
    req.end(body);
  }).finally(() => s.destroy());
}

const message = (b: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, b.length]), Buffer.from(b)]);

test('HTTP/1 goes to the HTTP server', async () => {
  assert.equal(await httpBody('/version'), 'plain http GET /version');
  // Keep-alive: a second request on whatever connection the agent reuses.
  assert.equal(await httpBody('/health'), 'plain http GET /health');
});

test('HTTP/2 goes to the front: every stream is given to its route', async () => {
  assert.equal((await h2Call('/x.Y/Z', message(''))).code, '12');
  const echo = await h2Call('/l.L/Echo', message('local'));
  assert.equal(echo.code, '0');
  assert.deepEqual(echo.body, message('local'));
  assert.deepEqual(routed.slice(-2), ['/x.Y/Z', '/l.L/Echo']);
});

test('a Node http2 client with a URL :authority is served too', async () => {
  const r = await h2Call('/l.L/Echo', message('url'), 'http://127.0.0.1:2379');
  assert.equal(r.code, '0');
  assert.deepEqual(r.body, message('url'));
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
    const before = routed.length;
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
    // The server's SETTINGS comes first; then the route's trailers-only UNIMPLEMENTED.
    assert.equal(got[3], 4, 'a SETTINGS frame first');
    assert.equal(got[4], 0, 'not an ACK');
    const fields = new HeaderDecoder().decode(firstHeaders(got)!);
    assert.ok(fields !== undefined);
    const h = Object.fromEntries(fields);
    assert.equal(h[':status'], '200');
    assert.equal(h['grpc-status'], '12');
    assert.deepEqual(routed.slice(before), ['/x.Y/Z'], 'the front routed the stream');
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
  const l = await listenClient('127.0.0.1', 0, { route }, createHttpServer());
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

test('a port bound ahead (HeldListener) holds its connections until the listener serves them', async () => {
  const held = await HeldListener.bind('127.0.0.1', 0);
  // A client connects and sends its request while the member is still starting.
  const early = connect(held.port, '127.0.0.1');
  await new Promise<void>((r) => early.once('connect', () => r()));
  early.write('GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  let answer = '';
  early.on('data', (d: Buffer) => (answer += d.toString()));
  const closed = new Promise<void>((r) => early.once('close', () => r()));
  await new Promise((r) => setImmediate(r));
  assert.equal(answer, '', 'nothing is answered before the port is served');
  const l = await listenClient('127.0.0.1', 0, { route }, httpServer, held);
  assert.equal(l.port, held.port);
  await closed;
  assert.match(answer, /plain http GET \/early/);
  await l.close();
});
