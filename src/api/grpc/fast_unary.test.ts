import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import {
  ownBytes,
  timeoutMs,
  unaryRouter,
  UnaryCall,
  type FastHandler,
  type FastUnaryOptions,
} from './fast_unary.ts';
import { listenClient, type ClientListener } from '../http/listener.ts';
import { duplexPair } from '../http/duplex_pair.ts';
import type { RequestHead, StreamSink } from '../http/h2_server.ts';
import { rawMessages } from '../../../test/helpers/h2.ts';

const raw = (b: Buffer) => b;
const ident = rawMessages;
// One grpc-js service with three methods; the fast path takes two of them. grpc-js answering a
// routed path ('not routed') shows the call was forwarded.
const definition: grpc.ServiceDefinition = {
  Slow: { path: '/t.S/Slow', requestStream: false, responseStream: false, ...ident },
  Fast: { path: '/t.S/Fast', requestStream: false, responseStream: false, ...ident },
  Hang: { path: '/t.S/Hang', requestStream: false, responseStream: false, ...ident },
};

const MAX = 1024;
const fastHandler: FastHandler = {
  run: (req) => {
    if (req.toString() === 'throw') throw new Error('boom: 100% wrong é');
    if (req.toString() === 'reject') return Promise.reject(new Error('later'));
    if (req.toString() === 'sync') return { out: Buffer.from('sync answer') };
    return Promise.resolve({ out: Buffer.concat([Buffer.from('fast:'), req]) });
  },
  encode: (v) => {
    const out = (v as { out: Buffer }).out;
    if (out.toString() === 'fast:unencodable') throw new Error('cannot encode');
    return out;
  },
};
const routes = new Map<string, FastHandler>([
  ['/t.S/Fast', fastHandler],
  ['/t.S/Hang', { run: () => new Promise<object>(() => {}), encode: () => new Uint8Array(0) }],
]);
const options: FastUnaryOptions = {
  maxReceiveBytes: MAX,
  onError: (method, err) => ({
    code: grpc.status.FAILED_PRECONDITION,
    details: `${method} ${String(err)}`,
  }),
};

let server: grpc.Server;
let injector: ReturnType<grpc.Server['createConnectionInjector']> | undefined;
let listener: ClientListener;
let client: grpc.Client;
let gzipClient: grpc.Client;

before(async () => {
  server = new grpc.Server();
  server.addService(definition, {
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.concat([Buffer.from('grpc-js:'), call.request])),
    Fast: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('not routed')),
    Hang: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('not routed')),
  });
  const inj = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  injector = inj;
  listener = await listenClient(
    '127.0.0.1',
    0,
    {
      route: unaryRouter(routes, options),
      connectBackend: () => {
        const [front, back] = duplexPair();
        inj.injectConnection(back);
        return front;
      },
    },
    createHttpServer(),
  );
  client = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
  gzipClient = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_compression_algorithm': 2, // gzip
    'grpc.use_local_subchannel_pool': 1,
  });
});

after(async () => {
  client.close();
  gzipClient.close();
  await listener.close();
  server.forceShutdown();
  injector?.destroy();
});

function call(path: string, body: Buffer, deadlineMs = 5000, c = client): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(path, raw, raw, body, { deadline: Date.now() + deadlineMs }, (err, v) =>
      err ? reject(err) : resolve(v!),
    );
  });
}

async function rejects(p: Promise<unknown>, code: grpc.status, details: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: grpc.ServiceError) => {
    assert.equal(e.code, code);
    if (typeof details === 'string') assert.equal(e.details, details);
    else assert.match(e.details, details);
    return true;
  });
}

interface RawAnswer {
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  body: Buffer;
}

/** A gRPC POST with a hand-made body (and headers) through Node's http2 client. */
function rawCall(path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<RawAnswer> {
  const s = http2.connect(`http://127.0.0.1:${listener.port}`);
  return new Promise<RawAnswer>((resolve, reject) => {
    const req = s.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const a: RawAnswer = { grpcStatus: undefined, grpcMessage: undefined, body: Buffer.alloc(0) };
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) a.grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) a.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    const parts: Buffer[] = [];
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', reject);
    req.on('close', () => {
      a.body = Buffer.concat(parts);
      resolve(a);
    });
    req.end(body);
  }).finally(() => s.destroy());
}

function framed(...msgs: (string | Buffer)[]): Buffer {
  return Buffer.concat(
    msgs.map((m) => {
      const b = typeof m === 'string' ? Buffer.from(m) : m;
      const p = Buffer.alloc(5);
      p.writeUInt32BE(b.length, 1);
      return Buffer.concat([p, b]);
    }),
  );
}

test('a routed path is answered by its handler; any other path still by grpc-js', async () => {
  assert.equal((await call('/t.S/Fast', Buffer.from('x'))).toString(), 'fast:x');
  assert.equal((await call('/t.S/Slow', Buffer.from('y'))).toString(), 'grpc-js:y');
  // A handler may answer synchronously.
  assert.equal((await call('/t.S/Fast', Buffer.from('sync'))).toString(), 'sync answer');
  // Empty request and response bodies frame correctly.
  assert.equal((await call('/t.S/Fast', Buffer.alloc(0))).toString(), 'fast:');
  // Many calls on one connection in parallel all get their own answer.
  const outs = await Promise.all(
    Array.from({ length: 50 }, (_, i) => call('/t.S/Fast', Buffer.from(`${i}`))),
  );
  assert.deepEqual(
    outs.map((b) => b.toString()),
    Array.from({ length: 50 }, (_, i) => `fast:${i}`),
  );
});

test('a compressed (grpc-encoding: gzip) call on a routed path is forwarded to grpc-js', async () => {
  assert.equal((await call('/t.S/Fast', Buffer.from('z'), 5000, gzipClient)).toString(), 'not routed');
  assert.equal((await call('/t.S/Slow', Buffer.from('z'), 5000, gzipClient)).toString(), 'grpc-js:z');
  // grpc-encoding: identity stays on the fast path.
  const a = await rawCall('/t.S/Fast', framed('id'), { 'grpc-encoding': 'identity' });
  assert.equal(a.grpcStatus, '0');
  assert.deepEqual(a.body, framed('fast:id'));
});

test('thrown and rejected errors reach the client through the mapper, message intact', async () => {
  await rejects(
    call('/t.S/Fast', Buffer.from('throw')),
    grpc.status.FAILED_PRECONDITION,
    '/t.S/Fast Error: boom: 100% wrong é',
  );
  await rejects(
    call('/t.S/Fast', Buffer.from('reject')),
    grpc.status.FAILED_PRECONDITION,
    '/t.S/Fast Error: later',
  );
});

test('an encode failure reaches the client through the mapper', async () => {
  await rejects(
    call('/t.S/Fast', Buffer.from('unencodable')),
    grpc.status.FAILED_PRECONDITION,
    '/t.S/Fast Error: cannot encode',
  );
  assert.equal((await call('/t.S/Fast', Buffer.from('ok'))).toString(), 'fast:ok');
});

test('a request over the receive limit is refused with RESOURCE_EXHAUSTED; the connection keeps serving', async () => {
  await rejects(call('/t.S/Fast', Buffer.alloc(MAX + 1)), grpc.status.RESOURCE_EXHAUSTED, /larger than max/);
  assert.equal((await call('/t.S/Fast', Buffer.alloc(MAX, 97))).length, 'fast:'.length + MAX);
});

test('a call that outlives its deadline ends with DEADLINE_EXCEEDED', async () => {
  await rejects(
    call('/t.S/Hang', Buffer.from('z'), 150),
    grpc.status.DEADLINE_EXCEEDED,
    /Deadline exceeded/i,
  );
  assert.equal((await call('/t.S/Fast', Buffer.from('after'))).toString(), 'fast:after');
  // The server's own timer answers from grpc-timeout (a client that does not enforce it itself).
  const started = Date.now();
  const a = await rawCall('/t.S/Hang', framed('z'), { 'grpc-timeout': '100m' });
  assert.equal(a.grpcStatus, String(grpc.status.DEADLINE_EXCEEDED));
  assert.equal(a.grpcMessage, 'Deadline exceeded');
  assert.ok(Date.now() - started >= 90, 'not before the timeout');
});

test('a body with two messages, none, or a compressed flag is refused', async () => {
  const two = await rawCall('/t.S/Fast', framed('a', 'b'));
  assert.equal(two.grpcStatus, String(grpc.status.INTERNAL));
  assert.match(two.grpcMessage!, /exactly one request message/);
  const none = await rawCall('/t.S/Fast', Buffer.alloc(0));
  assert.equal(none.grpcStatus, String(grpc.status.UNIMPLEMENTED));
  assert.match(none.grpcMessage!, /exactly one request message/);
  const cut = await rawCall('/t.S/Fast', framed('abc').subarray(0, 6));
  assert.equal(cut.grpcStatus, String(grpc.status.INTERNAL));
  const compressed = framed('x');
  compressed[0] = 1;
  const c = await rawCall('/t.S/Fast', compressed);
  assert.equal(c.grpcStatus, String(grpc.status.INTERNAL));
  assert.match(c.grpcMessage!, /compressed/);
});

/** A sink that records what the call answered. */
function recorder(): StreamSink & { replies: Buffer[]; fails: [number, string][]; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const replies: Buffer[] = [];
  const fails: [number, string][] = [];
  return {
    replies,
    fails,
    sent,
    send: (b) => void sent.push(b),
    reply: (m) => void replies.push(Buffer.from(m)),
    fail: (code, details) => void fails.push([code, details]),
  };
}

const head = (over: Partial<RequestHead> = {}): RequestHead => ({
  method: 'POST',
  path: '/t.S/Fast',
  contentType: 'application/grpc',
  encoding: undefined,
  timeout: undefined,
  ...over,
});

test('unaryRouter takes only uncompressed gRPC POSTs to a known path', () => {
  const route = unaryRouter(routes, options);
  assert.ok(route(head(), recorder()) instanceof UnaryCall);
  assert.ok(route(head({ encoding: 'identity' }), recorder()) instanceof UnaryCall);
  assert.ok(route(head({ contentType: 'application/grpc+proto' }), recorder()) instanceof UnaryCall);
  assert.equal(route(head({ path: '/t.S/Slow' }), recorder()), undefined);
  assert.equal(route(head({ encoding: 'gzip' }), recorder()), undefined);
  assert.equal(route(head({ method: 'GET' }), recorder()), undefined);
  assert.equal(route(head({ contentType: 'application/json' }), recorder()), undefined);
  assert.equal(route(head({ contentType: '' }), recorder()), undefined);
});

test('a UnaryCall reads its message from any split of DATA chunks and answers once', async () => {
  const sink = recorder();
  const c = new UnaryCall(sink, '/t.S/Fast', fastHandler, options, undefined);
  const body = framed('split');
  for (const b of body) c.data(Buffer.from([b]));
  c.end();
  c.end();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sink.replies.map(String), ['fast:split']);
  assert.deepEqual(sink.fails, []);
  // A prefix over the limit fails at once, before the body is complete; later chunks change nothing.
  const big = recorder();
  const b = new UnaryCall(big, '/t.S/Fast', fastHandler, options, undefined);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MAX + 1, 1);
  b.data(prefix.subarray(0, 3));
  assert.deepEqual(big.fails, []);
  b.data(prefix.subarray(3));
  assert.equal(big.fails.length, 1);
  assert.equal(big.fails[0]![0], grpc.status.RESOURCE_EXHAUSTED);
  b.data(Buffer.alloc(MAX + 1));
  b.end();
  assert.equal(big.fails.length, 1);
  assert.deepEqual(big.replies, []);
});

test('a cancelled UnaryCall never answers, even when its handler settles or its deadline passes', async () => {
  let settle!: (v: object) => void;
  const handler: FastHandler = {
    run: () => new Promise<object>((r) => (settle = r)),
    encode: () => Buffer.from('late'),
  };
  const sink = recorder();
  const c = new UnaryCall(sink, '/t.S/Fast', handler, options, '20m');
  c.data(framed('x'));
  c.end();
  c.cancel();
  settle({});
  await new Promise((r) => setTimeout(r, 40));
  assert.deepEqual(sink.replies, []);
  assert.deepEqual(sink.fails, []);
  // Not cancelled: the deadline answers first and the late result is dropped.
  const sink2 = recorder();
  const c2 = new UnaryCall(sink2, '/t.S/Fast', handler, options, '20m');
  c2.data(framed('x'));
  c2.end();
  await new Promise((r) => setTimeout(r, 40));
  settle({});
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sink2.fails, [[grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded']]);
  assert.deepEqual(sink2.replies, []);
});

test('grpc-timeout header values convert to milliseconds; malformed ones are ignored', () => {
  assert.equal(timeoutMs('5S'), 5000);
  assert.equal(timeoutMs('250m'), 250);
  assert.equal(timeoutMs('1H'), 3_600_000);
  assert.equal(timeoutMs('2M'), 120_000);
  assert.equal(timeoutMs('4999975u'), 4999.975);
  assert.equal(timeoutMs('1000000n'), 1);
  assert.equal(timeoutMs('99999999H'), 2 ** 31 - 1, 'capped at what setTimeout takes');
  for (const bad of [undefined, '', 'S', '5', '5x', '-5S', '1.5S', '1234567890S', ['5S']]) {
    assert.equal(timeoutMs(bad), undefined, String(bad));
  }
});

test('a small message in a large read buffer is copied out; anything else is kept as it is', () => {
  const big = Buffer.alloc(64 * 1024, 7);
  const small = big.subarray(100, 400);
  const own = ownBytes(small);
  assert.notEqual(own.buffer, big.buffer);
  assert.equal(own.buffer.byteLength, 300);
  assert.deepEqual(own, small);
  const most = big.subarray(0, 60 * 1024);
  assert.equal(ownBytes(most), most);
  const fromSmallRead = Buffer.alloc(1000).subarray(10, 20);
  assert.equal(ownBytes(fromSmallRead), fromSmallRead);
});
