import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { connect } from 'node:net';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { listenClient, type ClientListener } from '../src/api/http/listener.ts';
import { PREFACE, type LocalCall, type RequestHead, type StreamSink } from '../src/api/http/h2_server.ts';
import { GrpcRouter, bidi, serverStream, unary as unaryHandler } from '../src/api/grpc/router.ts';
import { Code, StatusError } from '../src/api/grpc/status.ts';
import {
  ACK,
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  INITIAL_WINDOW_SIZE,
  MAX_FRAME_SIZE,
  PADDED,
  PING,
  PRIORITY,
  PRIORITY_FLAG,
  RST_STREAM,
  SETTINGS,
  WINDOW_UPDATE,
  RawClient,
  assertOk,
  frame,
  grpcMessage,
  messages,
  request,
  requestBlock,
  rstStream,
  settings,
  windowUpdate,
} from './helpers/h2_raw_client.ts';

/** The router's message limit here (RESOURCE_EXHAUSTED above it). */
const MAX_RECEIVE = 1 << 20;

// ---- the server under test: raw local routes (/t.L/*), gRPC router methods (/t.B, /t.U, /t.S), one listener

const raw = (b: Buffer) => b;

/** Backend and local-call happenings the tests wait for ('wait-started', 'cancel:<tag>', ...). */
const events = new EventEmitter();
const seen = new Set<string>();
function emit(name: string): void {
  seen.add(name);
  events.emit(name);
}
function happened(name: string, ms = 5000): Promise<void> {
  if (seen.has(name)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${name}`)), ms);
    events.once(name, () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Message i of a streamed answer: its index, then a fill byte derived from it. */
function streamMessage(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
}

function bigBody(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

/** The gRPC router serving /t.B/*, /t.U/Echo and /t.S/Answer. */
const router = new GrpcRouter({ maxReceiveBytes: MAX_RECEIVE, log: pino({ level: 'silent' }) });
router.method(
  '/t.B/Unary',
  unaryHandler((req) => Buffer.concat([Buffer.from('be:'), req])),
);
router.method(
  '/t.B/Fail',
  unaryHandler(() => {
    throw new StatusError(Code.FAILED_PRECONDITION, 'no such luck');
  }),
);
router.method(
  '/t.B/Wait',
  unaryHandler((req, ctx) => {
    const tag = req.toString();
    ctx.signal.addEventListener('abort', () => emit(`router-cancelled:${tag}`));
    emit(`router-started:${tag}`);
    return new Promise<Buffer>(() => {});
  }),
);
router.method(
  '/t.B/Stream',
  // "count,size": count messages, each written once the previous one reached the socket.
  serverStream(async (req, _ctx, out) => {
    const [count, size] = req.toString().split(',').map(Number) as [number, number];
    for (let i = 0; i < count && !out.closed; i++) {
      await new Promise<void>((r) => out.write(streamMessage(i, size), r));
    }
  }),
);
router.method(
  '/t.B/Bidi',
  bidi((out) => ({
    message: (m) => out.write(Buffer.concat([Buffer.from('echo:'), m])),
    end: () => out.end(),
    close() {},
  })),
);
router.method(
  '/t.U/Echo',
  unaryHandler((req) => req),
);
router.method(
  '/t.S/Answer',
  bidi((out) => ({
    message: (m) => out.write(streamMessage(m.readUInt32BE(0), ANSWER)),
    end: () => out.end(),
    close() {},
  })),
);

/** A local call that gathers the request body and answers from it once the client half-closes. */
function collecting(onEnd: (body: Buffer) => void, tag?: string): LocalCall {
  const parts: Buffer[] = [];
  return {
    // The chunk may be a view into the read buffer: copied, as a real call must.
    data: (c) => void parts.push(Buffer.from(c)),
    end: () => onEnd(Buffer.concat(parts)),
    cancel: () => emit(`cancel:${tag ?? '?'}`),
  };
}

/** Size of each answer of /t.L/Answer and /t.S/Answer. */
const ANSWER = 64 * 1024;

/**
 * A local streaming call that answers every request message (its index first) with an ANSWER-byte
 * message through sink.send(), and ends with OK when the client half-closes.
 */
function answering(sink: StreamSink): LocalCall {
  let buf = Buffer.alloc(0);
  return {
    data: (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        sink.send(grpcMessage(streamMessage(buf.readUInt32BE(5), ANSWER)));
        buf = buf.subarray(5 + len);
      }
    },
    end: () => sink.fail(0, ''),
    cancel: () => emit('cancel:answer'),
  };
}

/** The `done` callbacks of /t.L/Stream's messages, in the order they ran. */
const streamDones: number[] = [];
/** /t.L/Later/<tag> calls, answered by the test. */
const later = new Map<string, StreamSink>();

/** Local routes: /t.L/Echo (the message back), /t.L/Big (n bytes), /t.L/Len (body size), /t.L/Hold/<tag>, /t.L/Answer and /t.S/Answer (64 KiB per request). */
function route(head: RequestHead, sink: StreamSink): LocalCall {
  const { path } = head;
  if (path === '/t.L/Echo') return collecting((b) => sink.reply(b.subarray(5)));
  if (path === '/t.L/Big') return collecting((b) => sink.reply(bigBody(Number(b.subarray(5).toString()))));
  if (path === '/t.L/Len') return collecting((b) => sink.reply(Buffer.from(String(b.length))));
  if (path === '/t.L/Fail') return collecting(() => sink.fail(grpc.status.NOT_FOUND, 'gone 100% é'));
  if (path === '/t.L/Stream') {
    // "count,size[,code]": count messages through send(), then the status through fail().
    return collecting((b) => {
      const [count, size, code] = b.subarray(5).toString().split(',').map(Number) as [
        number,
        number,
        number?,
      ];
      for (let i = 0; i < count; i++)
        sink.send(grpcMessage(streamMessage(i, size)), () => streamDones.push(i));
      sink.fail(code ?? 0, code ? `code ${code}` : '');
    });
  }
  if (path.startsWith('/t.L/Later/')) {
    const tag = path.slice('/t.L/Later/'.length);
    later.set(tag, sink);
    return collecting(() => emit(`later-ended:${tag}`), tag);
  }
  if (path.startsWith('/t.L/Hold/')) {
    const tag = path.slice('/t.L/Hold/'.length);
    emit(`hold-routed:${tag}`);
    return collecting(() => emit(`hold-ended:${tag}`), tag);
  }
  if (path === '/t.L/Answer') return answering(sink);
  return router.route(head, sink);
}

let listener: ClientListener;
let client: grpc.Client;
const httpServer = createHttpServer((_req, res) => res.end('http'));

/**
 * The tests' PING barriers come faster than etcd's keepalive policy allows (--grpc-keepalive-min-time
 * 5 s): no minimum here, so that only the tests of the policy meet it.
 */
const TEST_LIMITS = { keepalive: { minTimeMs: 0 } };

before(async () => {
  listener = await listenClient('127.0.0.1', 0, { route, limits: TEST_LIMITS }, httpServer);
  client = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client.close();
  await listener.close();
});

// ---- a raw HTTP/2 client (helpers/h2_raw_client.ts) on the listener under test

const openRaw = (pairs: [number, number][] = [], port = listener.port) => RawClient.open(port, pairs);

/** A fresh connection still gets a local call answered (the server lives on). */
async function stillServes(): Promise<void> {
  const c = await openRaw();
  try {
    c.send(request(1, '/t.L/Echo', 'alive'));
    assertOk(await c.complete(1), 'alive');
  } finally {
    c.close();
  }
}

// ---- local calls

test('a local unary call is answered with :status 200, application/grpc, the message and grpc-status 0', async () => {
  const c = await openRaw();
  try {
    c.send(request(1, '/t.L/Echo', 'hello'));
    const a = await c.complete(1);
    assertOk(a, 'hello');
    // The trailers carry END_STREAM; the stream is not reset (the client had half-closed).
    const trailers = c.frames.filter((f) => f.id === 1 && f.type === HEADERS)[1]!;
    assert.equal(trailers.flags & END_STREAM, END_STREAM);
    // An empty message frames correctly too; a failed call is trailers-only, details percent-encoded.
    c.send(request(3, '/t.L/Echo', ''), request(5, '/t.L/Fail', 'x'));
    assertOk(await c.complete(3), '');
    const f = await c.complete(5);
    assert.equal(f.heads.length, 1);
    assert.equal(f.heads[0]![':status'], '200');
    assert.equal(f.heads[0]!['grpc-status'], String(grpc.status.NOT_FOUND));
    assert.equal(decodeURIComponent(f.heads[0]!['grpc-message']!), 'gone 100% é');
    assert.equal(f.data.length, 0);
  } finally {
    c.close();
  }
});

test('many calls pipelined in one write are all answered, each with its own message', async () => {
  const c = await openRaw();
  try {
    const n = 200;
    const reqs: Buffer[] = [];
    for (let i = 0; i < n; i++) reqs.push(request(2 * i + 1, '/t.L/Echo', `m${i}`));
    c.send(...reqs);
    for (let i = 0; i < n; i++) assertOk(await c.complete(2 * i + 1), `m${i}`);
  } finally {
    c.close();
  }
});

test("a response larger than the client's stream window waits for WINDOW_UPDATE; trailers come last", async () => {
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 100]]);
  try {
    c.send(request(1, '/t.L/Big', '3000'));
    await c.barrier();
    let a = c.answer(1);
    assert.equal(a.heads.length, 1, 'response headers only, no trailers yet');
    assert.equal(a.data.length, 100, 'exactly the stream window');
    c.send(windowUpdate(1, 400));
    await c.barrier();
    a = c.answer(1);
    assert.equal(a.data.length, 500);
    assert.equal(a.heads.length, 1);
    // A larger initial window in SETTINGS applies to the open stream as well (RFC 9113 6.9.2).
    c.send(settings([[INITIAL_WINDOW_SIZE, 1000]]));
    await c.barrier();
    assert.equal(c.answer(1).data.length, 1000 + 400);
    c.send(windowUpdate(1, 2000));
    a = await c.complete(1);
    assertOk(a, bigBody(3000));
    const last = c.frames.filter((f) => f.id === 1).at(-1)!;
    assert.equal(last.type, HEADERS, 'trailers after all data');
    assert.equal(last.flags & END_STREAM, END_STREAM);
  } finally {
    c.close();
  }
});

test('a response above the 65535-byte connection window waits for a connection WINDOW_UPDATE; DATA frames are at most 16384', async () => {
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 1 << 20]]);
  try {
    const size = 200_000;
    c.send(request(1, '/t.L/Big', String(size)));
    await c.barrier();
    let a = c.answer(1);
    assert.equal(a.data.length, 65_535, 'exactly the connection window');
    assert.equal(a.heads.length, 1);
    for (const f of a.dataFrames) assert.ok(f.payload.length <= 16_384, `frame of ${f.payload.length}`);
    // A second call on the same connection is blocked by the connection window as well.
    c.send(request(3, '/t.L/Echo', 'queued'));
    await c.barrier();
    assert.equal(c.answer(3).data.length, 0);
    c.send(windowUpdate(0, 70_000));
    await c.barrier();
    a = c.answer(1);
    assert.ok(a.data.length > 65_535 && a.data.length <= 65_535 + 70_000, `got ${a.data.length}`);
    c.send(windowUpdate(0, 200_000));
    a = await c.complete(1);
    assertOk(a, bigBody(size));
    for (const f of a.dataFrames) assert.ok(f.payload.length <= 16_384, `frame of ${f.payload.length}`);
    assert.ok(a.dataFrames.length >= Math.ceil((size + 5) / 16_384));
    assertOk(await c.complete(3), 'queued');
    const s1 = c.frames.filter((f) => f.id === 1);
    assert.equal(s1.at(-1)!.type, HEADERS, 'trailers after all data');
  } finally {
    c.close();
  }
});

test('a client that allows larger frames gets larger DATA frames', async () => {
  const c = await openRaw([
    [INITIAL_WINDOW_SIZE, 1 << 20],
    [MAX_FRAME_SIZE, 32_768],
  ]);
  try {
    c.send(windowUpdate(0, 1 << 20), request(1, '/t.L/Big', '50000'));
    const a = await c.complete(1);
    assertOk(a, bigBody(50_000));
    assert.ok(a.dataFrames.some((f) => f.payload.length > 16_384));
    for (const f of a.dataFrames) assert.ok(f.payload.length <= 32_768);
  } finally {
    c.close();
  }
});

test('a 300 KiB request body is accepted and window is granted back to the client', async () => {
  const c = await openRaw();
  try {
    const body = bigBody(300 * 1024);
    c.send(request(1, '/t.L/Len', body));
    const a = await c.complete(1);
    assertOk(a, String(body.length + 5));
    const updates = c.frames.filter((f) => f.type === WINDOW_UPDATE && f.id === 1);
    assert.ok(updates.length >= 1, 'a stream WINDOW_UPDATE');
    assert.ok(updates.every((f) => f.payload.readUInt32BE(0) > 0));
    // A router call takes the same body (below its limit) and echoes it.
    c.send(request(3, '/t.U/Echo', body), windowUpdate(0, 1 << 20), windowUpdate(3, 1 << 20));
    assertOk(await c.complete(3), body);
  } finally {
    c.close();
  }
});

test('a request above maxReceiveBytes is answered RESOURCE_EXHAUSTED, then RST_STREAM NO_ERROR', async () => {
  const c = await openRaw();
  try {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(MAX_RECEIVE + 1, 1);
    c.send(
      frame(HEADERS, END_HEADERS, 1, requestBlock('/t.U/Echo')),
      frame(DATA, 0, 1, Buffer.concat([prefix, Buffer.alloc(16_000)])),
    );
    const a = await c.complete(1);
    assert.equal(a.heads.length, 1);
    assert.equal(a.heads[0]!['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
    assert.match(decodeURIComponent(a.heads[0]!['grpc-message']!), /larger than max/);
    assert.equal(a.rst, 0, 'RST_STREAM NO_ERROR');
    const s1 = c.frames.filter((f) => f.id === 1);
    assert.equal(s1.at(-1)!.type, RST_STREAM, 'the reset follows the trailers');
    // More DATA for the finished stream is dropped; the connection keeps serving.
    c.send(frame(DATA, END_STREAM, 1, Buffer.alloc(1000)), request(3, '/t.U/Echo', 'next'));
    assertOk(await c.complete(3), 'next');
  } finally {
    c.close();
  }
});

test('HEADERS split over CONTINUATION frames, PADDED and PRIORITY HEADERS, PADDED DATA', async () => {
  const c = await openRaw();
  try {
    const block = requestBlock('/t.L/Echo', [['x-big', 'v'.repeat(300)]]);
    c.send(
      frame(HEADERS, 0, 1, block.subarray(0, 10)),
      frame(CONTINUATION, 0, 1, block.subarray(10, 200)),
      frame(CONTINUATION, END_HEADERS, 1, block.subarray(200)),
      frame(DATA, END_STREAM, 1, grpcMessage('continued')),
    );
    assertOk(await c.complete(1), 'continued');

    // PADDED and PRIORITY: pad length, stream dependency + weight, block, padding.
    const pad = 7;
    const prio = Buffer.from([0x80, 0, 0, 0, 16]);
    const payload = Buffer.concat([
      Buffer.from([pad]),
      prio,
      requestBlock('/t.L/Echo'),
      Buffer.alloc(pad, 0xee),
    ]);
    const msg = grpcMessage('padded');
    const data = Buffer.concat([Buffer.from([3]), msg, Buffer.alloc(3, 0xdd)]);
    c.send(
      frame(HEADERS, END_HEADERS | PADDED | PRIORITY_FLAG, 3, payload),
      frame(DATA, END_STREAM | PADDED, 3, data),
    );
    assertOk(await c.complete(3), 'padded');

    // A PRIORITY frame and an unknown frame type are ignored.
    c.send(frame(PRIORITY, 0, 5, Buffer.from([0, 0, 0, 0, 16])), frame(0xfa, 0, 0, Buffer.from('??')));
    c.send(request(5, '/t.L/Echo', 'after'));
    assertOk(await c.complete(5), 'after');
  } finally {
    c.close();
  }
});

test('PING is answered with ACK and the same 8 bytes; SETTINGS with an ACK', async () => {
  const c = await openRaw();
  try {
    const data = Buffer.from('0123abcd');
    const from = c.frames.length;
    c.send(frame(PING, 0, 0, data));
    const ack = await c.until(() => c.find((f) => f.type === PING, from), 'PING ACK');
    assert.equal(ack.flags, ACK);
    assert.equal(ack.id, 0);
    assert.deepEqual(ack.payload, data);
    // A PING ACK from the client is not answered.
    const n = c.frames.length;
    c.send(frame(PING, ACK, 0, Buffer.from('zzzzzzzz')));
    const at = await c.barrier();
    assert.equal(c.frames.slice(n, at).filter((f) => f.type === PING).length, 0);
    const m = c.frames.length;
    c.send(settings([[MAX_FRAME_SIZE, 20_000]]));
    const sack = await c.until(() => c.find((f) => f.type === SETTINGS, m), 'SETTINGS ACK');
    assert.equal(sack.flags, ACK);
    assert.equal(sack.payload.length, 0);
  } finally {
    c.close();
  }
});

test('a client RST_STREAM cancels a pending local call; nothing is sent for it', async () => {
  const c = await openRaw();
  try {
    c.send(request(1, '/t.L/Hold/rst', 'x'));
    await happened('hold-ended:rst');
    c.send(rstStream(1, 8));
    await happened('cancel:rst');
    c.send(request(3, '/t.L/Echo', 'other'));
    assertOk(await c.complete(3), 'other');
    await c.barrier();
    assert.deepEqual(
      c.frames.filter((f) => f.id === 1),
      [],
    );
  } finally {
    c.close();
  }
});

test('a local streamed answer: headers once, messages in order, then status trailers without :status', async () => {
  const c = await openRaw();
  try {
    streamDones.length = 0;
    c.send(request(1, '/t.L/Stream', '5,100'));
    let a = await c.complete(1);
    assert.equal(a.heads.length, 2);
    assert.equal(a.heads[0]![':status'], '200');
    assert.equal(a.heads[0]!['content-type'], 'application/grpc');
    assert.deepEqual(a.heads[1], { 'grpc-status': '0' }, 'OK trailers, no :status, no message');
    assert.deepEqual(
      messages(a.data),
      Array.from({ length: 5 }, (_, i) => streamMessage(i, 100)),
    );
    assert.deepEqual(streamDones, [0, 1, 2, 3, 4]);
    // An error after some messages goes in the trailers.
    c.send(request(3, '/t.L/Stream', '2,10,5'));
    a = await c.complete(3);
    assert.equal(messages(a.data).length, 2);
    assert.equal(a.heads.length, 2);
    assert.equal(a.heads[1]!['grpc-status'], '5');
    assert.equal(a.heads[1]!['grpc-message'], 'code%205');
    assert.equal(a.heads[1]![':status'], undefined);
  } finally {
    c.close();
  }
});

test("a streamed message's done callback waits until the window lets all of it out", async () => {
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 100]]);
  try {
    streamDones.length = 0;
    c.send(request(1, '/t.L/Stream', '2,1000'));
    await c.barrier();
    assert.equal(c.answer(1).data.length, 100);
    assert.deepEqual(streamDones, [], 'nothing fully written yet');
    c.send(windowUpdate(1, 1000));
    await c.barrier();
    assert.equal(c.answer(1).data.length, 1100);
    assert.deepEqual(streamDones, [0], 'the first message (1005 bytes) is out');
    c.send(windowUpdate(1, 1000));
    const a = await c.complete(1);
    assert.equal(a.data.length, 2010);
    assert.deepEqual(streamDones, [0, 1]);
    assert.equal(a.heads.at(-1)!['grpc-status'], '0');
  } finally {
    c.close();
  }
});

// ---- a local stream whose client sends requests without reading the answers

/** The front's LOCAL_BACKLOG and GRANT_AT (h2_server.ts), as a client sees their effect. */
const LOCAL_BACKLOG = 1 << 20;
const GRANT_AT = 32 * 1024;
/** A request of /t.L/Answer or /t.S/Answer fills one DATA frame of this many bytes. */
const ASK_FRAME = 16_384;
/** Requests whose DATA is granted back before the answers waiting exceed LOCAL_BACKLOG (15). */
const GRANTED_ASKS = Math.floor(LOCAL_BACKLOG / (ANSWER + 5));

/** Request `i` on stream `id`: one DATA frame (no END_STREAM) holding one message, its index first. */
function ask(id: number, i: number): Buffer {
  const body = Buffer.alloc(ASK_FRAME - 5, i % 251);
  body.writeUInt32BE(i, 0);
  return frame(DATA, 0, id, grpcMessage(body));
}

/** The increments of the WINDOW_UPDATEs the server sent for stream `id` among frames [from, to). */
function grants(c: RawClient, id: number, from = 0, to = c.frames.length): number[] {
  return c.frames
    .slice(from, to)
    .filter((f) => f.type === WINDOW_UPDATE && f.id === id)
    .map((f) => f.payload.readUInt32BE(0));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Opens stream `id` on `path` and sends `n` requests one at a time to a client whose stream window
 * is 0, so every answer waits. After each request a PING barrier shows what was granted back: each
 * consumed byte (in GRANT_AT steps) while the waiting answers are within LOCAL_BACKLOG, then nothing.
 * Returns the bytes granted.
 */
async function fillBacklog(c: RawClient, id: number, path: string, n: number): Promise<number> {
  // A PING right after a DATA frame would otherwise wait for the ACK of the DATA (Nagle): ~40 ms a barrier.
  c.sock.setNoDelay(true);
  c.send(frame(HEADERS, END_HEADERS, id, requestBlock(path)));
  let heldFrom = 0;
  for (let i = 0; i < n; i++) {
    c.send(ask(id, i));
    const at = await c.barrier();
    const consumed = Math.min(i + 1, GRANTED_ASKS) * ASK_FRAME;
    const expected = Math.floor(consumed / GRANT_AT) * GRANT_AT;
    assert.equal(sum(grants(c, id, 0, at)), expected, `stream window granted after request ${i}`);
    if (i === GRANTED_ASKS - 1) heldFrom = at;
  }
  assert.ok(n > GRANTED_ASKS, 'enough requests to exceed the backlog');
  assert.deepEqual(grants(c, id, heldFrom), [], 'no stream WINDOW_UPDATE once the backlog is exceeded');
  const a = c.answer(id);
  assert.equal(a.rst, undefined);
  assert.equal(a.heads.length, 1, 'response headers only');
  assert.equal(a.data.length, 0, 'no window, no answer data');
  return sum(grants(c, id));
}

for (const path of ['/t.L/Answer', '/t.S/Answer']) {
  test(`${path}: a client that does not read its answers gets no stream window once more than 1 MiB of answers wait; reading gives the held window back`, async () => {
    const c = await openRaw([[INITIAL_WINDOW_SIZE, 0]]);
    try {
      const n = 40;
      const framed = ANSWER + 5;
      const granted = await fillBacklog(c, 1, path, n);
      // The client reads, but leaves one byte more than LOCAL_BACKLOG waiting: still held.
      const total = n * framed;
      const from = c.frames.length;
      c.send(windowUpdate(0, 8 << 20), windowUpdate(1, total - LOCAL_BACKLOG - 1));
      // More than the socket takes at once (MAX_UNWRITTEN): it comes as the client reads.
      await c.until(
        () => (c.answer(1).data.length >= total - LOCAL_BACKLOG - 1 ? true : undefined),
        'the window granted',
      );
      let at = await c.barrier();
      assert.equal(c.answer(1).data.length, total - LOCAL_BACKLOG - 1);
      assert.deepEqual(grants(c, 1, from, at), [], 'more than LOCAL_BACKLOG still waits');
      // One byte more and exactly LOCAL_BACKLOG waits: the held window comes back.
      c.send(windowUpdate(1, 1));
      at = await c.barrier();
      assert.equal(c.answer(1).data.length, total - LOCAL_BACKLOG);
      assert.equal(
        sum(grants(c, 1, from, at)),
        n * ASK_FRAME - granted,
        'every consumed byte is granted back',
      );
      // The rest of the answers.
      c.send(windowUpdate(1, 8 << 20));
      await c.until(() => (c.answer(1).data.length >= total ? true : undefined), 'all answers');
      const at2 = await c.barrier();
      let a = c.answer(1);
      assert.equal(a.rst, undefined);
      assert.equal(a.data.length, total);
      const ms = messages(a.data);
      assert.equal(ms.length, n);
      ms.forEach((m, i) => assert.ok(m.equals(streamMessage(i, ANSWER)), `answer ${i} in order`));
      const back = grants(c, 1, from, at2);
      assert.equal(sum(back), n * ASK_FRAME - granted, 'nothing more once the rest is read');
      assert.ok(
        back.some((x) => x >= (n - GRANTED_ASKS) * ASK_FRAME),
        `one WINDOW_UPDATE covers the held bytes: ${back.join(',')}`,
      );
      // No longer held: more requests are answered at once and their window comes back as usual.
      c.send(ask(1, n), ask(1, n + 1));
      await c.until(
        () => (c.answer(1).data.length >= (n + 2) * framed ? true : undefined),
        'two more answers',
      );
      const at3 = await c.barrier();
      assert.deepEqual(grants(c, 1, at2, at3), [2 * ASK_FRAME]);
      c.send(frame(DATA, END_STREAM, 1));
      a = await c.complete(1);
      assert.equal(a.rst, undefined);
      assert.equal(a.heads.length, 2);
      assert.deepEqual(a.heads[1], { 'grpc-status': '0' });
      const all = messages(a.data);
      assert.equal(all.length, n + 2);
      all.forEach((m, i) => assert.ok(m.equals(streamMessage(i, ANSWER)), `answer ${i} in order`));
    } finally {
      c.close();
    }
  });
}

test('DATA beyond the window the server granted resets the stream with FLOW_CONTROL_ERROR', async () => {
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 0]]);
  try {
    const n = 40;
    const granted = await fillBacklog(c, 1, '/t.L/Answer', n);
    // The stream's window: the server's SETTINGS (1 MiB) plus what it granted, minus what was sent.
    let left = (1 << 20) + granted - n * ASK_FRAME;
    let i = n;
    while (left >= ASK_FRAME) {
      c.send(ask(1, i++));
      left -= ASK_FRAME;
    }
    await c.barrier();
    assert.equal(c.answer(1).rst, undefined, 'within the window: no reset');
    c.send(ask(1, i));
    assert.equal((await c.complete(1)).rst, 3, 'past the window: FLOW_CONTROL_ERROR');
    // The connection lives on (window for the answer: the client's SETTINGS gave streams none).
    c.send(request(3, '/t.L/Echo', 'after'), windowUpdate(3, 1 << 16));
    assertOk(await c.complete(3), 'after');
  } finally {
    c.close();
  }
});

test('while one local stream is held, a local unary call, another local stream and a router call on the same connection are served', async () => {
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 0]]);
  try {
    const n = 20;
    const framed = ANSWER + 5;
    const granted = await fillBacklog(c, 1, '/t.L/Answer', n);
    const heldAt = c.frames.length;
    // The initial stream window is 0: each stream gets its own WINDOW_UPDATE.
    c.send(request(3, '/t.L/Echo', 'while held'), windowUpdate(3, 1000));
    assertOk(await c.complete(3), 'while held');
    c.send(request(5, '/t.B/Unary', 'fwd'), windowUpdate(5, 1000));
    const f = await c.complete(5);
    assert.equal(f.rst, undefined);
    assert.equal(f.heads.at(-1)!['grpc-status'], '0');
    assert.deepEqual(messages(f.data), [Buffer.from('be:fwd')]);
    // Another local stream, whose client reads: answered, its window granted back.
    c.send(
      frame(HEADERS, END_HEADERS, 7, requestBlock('/t.S/Answer')),
      windowUpdate(7, 1 << 20),
      windowUpdate(0, 1 << 20),
      ask(7, 0),
      ask(7, 1),
    );
    await c.until(() => (c.answer(7).data.length >= 2 * framed ? true : undefined), 'stream 7 answers');
    await c.barrier();
    assert.deepEqual(grants(c, 7), [2 * ASK_FRAME]);
    c.send(frame(DATA, END_STREAM, 7));
    const a7 = await c.complete(7);
    assert.equal(a7.rst, undefined);
    assert.equal(a7.heads.at(-1)!['grpc-status'], '0');
    assert.deepEqual(messages(a7.data), [streamMessage(0, ANSWER), streamMessage(1, ANSWER)]);
    // Stream 1 is still held: nothing sent on it, no window given back.
    const at = await c.barrier();
    assert.deepEqual(grants(c, 1, heldAt, at), []);
    assert.equal(c.answer(1).data.length, 0);
    // Once its client reads, it gets its answers and the held window, and ends normally.
    c.send(windowUpdate(0, 4 << 20), windowUpdate(1, 4 << 20));
    await c.until(() => (c.answer(1).data.length >= n * framed ? true : undefined), 'stream 1 answers');
    const at2 = await c.barrier();
    assert.equal(sum(grants(c, 1, at, at2)), n * ASK_FRAME - granted);
    c.send(frame(DATA, END_STREAM, 1));
    const a1 = await c.complete(1);
    assert.equal(a1.rst, undefined);
    assert.equal(a1.heads.at(-1)!['grpc-status'], '0');
    const ms = messages(a1.data);
    assert.equal(ms.length, n);
    ms.forEach((m, i) => assert.ok(m.equals(streamMessage(i, ANSWER)), `answer ${i} in order`));
  } finally {
    c.close();
  }
});

test('graceful close: GOAWAY NO_ERROR, new streams refused, running ones answered, then the socket ends', async () => {
  const l2 = await listenClient('127.0.0.1', 0, { route, limits: TEST_LIMITS }, createHttpServer());
  const c = await openRaw([], l2.port);
  try {
    c.send(request(1, '/t.L/Later/grace', 'x'));
    await happened('later-ended:grace');
    const closed = l2.close();
    const code = await c.goAway();
    assert.equal(code, 0);
    const g = c.find((f) => f.type === GOAWAY)!;
    assert.equal(g.payload.readUInt32BE(0), 1, 'the last stream taken');
    c.send(request(3, '/t.L/Echo', 'too late'));
    const refused = await c.complete(3);
    assert.equal(refused.rst, 7, 'REFUSED_STREAM');
    assert.equal(refused.heads.length, 0);
    assert.equal(c.closed, false, 'the running call keeps the connection open');
    later.get('grace')!.reply(Buffer.from('bye'));
    assertOk(await c.complete(1), 'bye');
    await c.waitClosed();
    await closed;
  } finally {
    c.close();
  }
});

// ---- calls through the gRPC router, with grpc-js as the client

function unary(path: string, body: string): Promise<{ value: Buffer }> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, raw, raw, Buffer.from(body), (err, v) =>
      err ? reject(err) : resolve({ value: v! }),
    );
  });
}

test('router: a grpc-js unary call gets its answer; a failure its status and details', async () => {
  const r = await unary('/t.B/Unary', 'abc');
  assert.equal(r.value.toString(), 'be:abc');
  await assert.rejects(unary('/t.B/Fail', ''), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
    assert.equal(e.details, 'no such luck');
    return true;
  });
  // A method nobody serves is UNIMPLEMENTED, in grpc-go's words.
  await assert.rejects(unary('/t.B/Nope', ''), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.UNIMPLEMENTED);
    assert.equal(e.details, 'unknown method Nope for service t.B');
    return true;
  });
  await assert.rejects(unary('/t.Z/Nope', ''), (e: grpc.ServiceError) => {
    assert.equal(e.code, grpc.status.UNIMPLEMENTED);
    assert.equal(e.details, 'unknown service t.Z');
    return true;
  });
  // Raw local calls and router calls interleave on one connection.
  const outs = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      i % 2 ? unary('/t.B/Unary', `${i}`).then((r) => r.value.toString()) : unaryLocal(`${i}`),
    ),
  );
  assert.deepEqual(
    outs,
    Array.from({ length: 40 }, (_, i) => (i % 2 ? `be:${i}` : `${i}`)),
  );
});

function unaryLocal(body: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest('/t.L/Echo', raw, raw, Buffer.from(body), (err, v) =>
      err ? reject(err) : resolve(v!.toString()),
    ),
  );
}

test('router: a server stream arrives in order, then status OK', async () => {
  const got: Buffer[] = [];
  const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
    const call = client.makeServerStreamRequest('/t.B/Stream', raw, raw, Buffer.from('100,100'));
    call.on('data', (m: Buffer) => got.push(m));
    call.on('status', resolve);
    call.on('error', reject);
  });
  assert.equal(status.code, grpc.status.OK);
  assert.equal(got.length, 100);
  got.forEach((m, i) => assert.deepEqual(m, streamMessage(i, 100)));
});

test('router: a bidi stream echoes each message in order', async () => {
  const got: string[] = [];
  const status = await new Promise<grpc.StatusObject>((resolve, reject) => {
    const call = client.makeBidiStreamRequest('/t.B/Bidi', raw, raw);
    call.on('data', (m: Buffer) => {
      got.push(m.toString());
      // Ping-pong: the next message goes after the previous answer.
      if (got.length < 20) call.write(Buffer.from(`m${got.length}`));
      else call.end();
    });
    call.on('status', resolve);
    call.on('error', reject);
    call.write(Buffer.from('m0'));
  });
  assert.equal(status.code, grpc.status.OK);
  assert.deepEqual(
    got,
    Array.from({ length: 20 }, (_, i) => `echo:m${i}`),
  );
});

test('router: a 4 MiB server stream to a slow raw reader respects its windows and arrives whole', async () => {
  // The client grants its window in small steps, late: the front must never send beyond it.
  const c = await openRaw([[INITIAL_WINDOW_SIZE, 65_535]]);
  try {
    const count = 64;
    const size = 64 * 1024;
    c.send(request(1, '/t.B/Stream', `${count},${size}`));
    const total = count * (size + 5);
    let granted = 65_535;
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const a = c.answer(1);
      assert.ok(a.data.length <= granted, `${a.data.length} bytes sent with ${granted} granted`);
      if (c.ended(1)) break;
      if (a.data.length === granted) {
        // Everything allowed has arrived: let the server get ahead a little, then grant more.
        await new Promise((r) => setTimeout(r, rounds < 5 ? 30 : 0));
        const step = 256 * 1024;
        c.send(windowUpdate(0, step), windowUpdate(1, step));
        granted += step;
      }
      await c.until(
        () => (c.answer(1).data.length > a.data.length || c.ended(1) ? true : undefined),
        'more data',
      );
    }
    const a = await c.complete(1);
    assert.equal(a.rst, undefined);
    assert.equal(a.data.length, total);
    const ms = messages(a.data);
    assert.equal(ms.length, count);
    ms.forEach((m, i) => assert.ok(m.equals(streamMessage(i, size)), `message ${i}`));
    assert.equal(a.heads.at(-1)!['grpc-status'], '0');
    for (const f of a.dataFrames) assert.ok(f.payload.length <= 16_384);
    const s1 = c.frames.filter((f) => f.id === 1);
    assert.equal(s1.at(-1)!.type, HEADERS, 'trailers after all data');
  } finally {
    c.close();
  }
});

test('router: a 4 MiB server stream to a slow grpc-js reader arrives complete and in order', async () => {
  const count = 64;
  const size = 64 * 1024;
  let got = 0;
  // The status can come while messages still wait in the paused stream: 'end' marks the last one read.
  const [status] = await new Promise<[grpc.StatusObject, true]>((resolve, reject) => {
    let st: grpc.StatusObject | undefined;
    let ended = false;
    const call = client.makeServerStreamRequest('/t.B/Stream', raw, raw, Buffer.from(`${count},${size}`));
    call.on('data', (m: Buffer) => {
      if (!m.equals(streamMessage(got, size))) reject(new Error(`message ${got} wrong`));
      got++;
      call.pause();
      setTimeout(() => call.resume(), got < 16 ? 5 : 0);
    });
    call.on('status', (x: grpc.StatusObject) => {
      st = x;
      if (ended) resolve([x, true]);
    });
    call.on('end', () => {
      ended = true;
      if (st !== undefined) resolve([st, true]);
    });
    call.on('error', reject);
  });
  assert.equal(status.code, grpc.status.OK);
  assert.equal(got, count);
});

test('an :authority that is a URL works on raw local and router calls (Node http2 client)', async () => {
  const s = http2.connect(`http://127.0.0.1:${listener.port}`);
  const one = (path: string) =>
    new Promise<{ status: string; grpc: string; body: Buffer }>((resolve, reject) => {
      const req = s.request({
        ':method': 'POST',
        ':path': path,
        ':authority': 'http://127.0.0.1:2379',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status = '';
      let code = '';
      const parts: Buffer[] = [];
      req.on('response', (h) => {
        status = String(h[':status']);
        code = String(h['grpc-status'] ?? '');
      });
      req.on('trailers', (t) => (code = String(t['grpc-status'])));
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('error', reject);
      req.on('close', () =>
        req.rstCode
          ? reject(new Error(`reset ${req.rstCode}`))
          : resolve({ status, grpc: code, body: Buffer.concat(parts) }),
      );
      req.end(grpcMessage('url'));
    });
  try {
    const local = await one('/t.L/Echo');
    assert.deepEqual(local, { status: '200', grpc: '0', body: grpcMessage('url') });
    const fwd = await one('/t.B/Unary');
    assert.deepEqual(fwd, { status: '200', grpc: '0', body: grpcMessage('be:url') });
  } finally {
    s.destroy();
  }
});

// ---- malformed input

async function expectGoAway(bytes: Buffer, code: number, what: string): Promise<void> {
  const c = await openRaw();
  try {
    c.send(bytes);
    assert.equal(await c.goAway(), code, what);
    await c.waitClosed();
  } finally {
    c.close();
  }
}

test('malformed frames end the connection with the right GOAWAY; the server keeps serving', async () => {
  await expectGoAway(frame(DATA, 0, 1, Buffer.alloc(16_385)), 6, 'a frame above 16384: FRAME_SIZE_ERROR');
  await expectGoAway(frame(HEADERS, END_HEADERS, 1, Buffer.from([0x80])), 9, 'index 0: COMPRESSION_ERROR');
  await expectGoAway(
    frame(HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0x7f])),
    9,
    'an index past the table: COMPRESSION_ERROR',
  );
  await expectGoAway(frame(HEADERS, END_HEADERS, 0, requestBlock('/t.L/Echo')), 1, 'HEADERS on stream 0');
  await expectGoAway(
    frame(HEADERS, END_HEADERS, 2, requestBlock('/t.L/Echo')),
    1,
    'HEADERS on an even stream',
  );
  await expectGoAway(frame(DATA, 0, 0, Buffer.from('x')), 1, 'DATA on stream 0');
  await expectGoAway(frame(CONTINUATION, END_HEADERS, 1, Buffer.alloc(0)), 1, 'CONTINUATION without HEADERS');
  await expectGoAway(
    Buffer.concat([frame(HEADERS, 0, 1, requestBlock('/t.L/Echo')), frame(PING, 0, 0, Buffer.alloc(8))]),
    1,
    'another frame inside a header block',
  );
  await expectGoAway(
    frame(HEADERS, END_HEADERS | PADDED, 1, Buffer.from([5, 1, 2])),
    1,
    'padding past the end',
  );
  await expectGoAway(frame(PING, 0, 0, Buffer.alloc(7)), 6, 'a PING of 7 bytes: FRAME_SIZE_ERROR');
  await expectGoAway(frame(SETTINGS, 0, 0, Buffer.alloc(5)), 6, 'SETTINGS not a multiple of 6');
  await expectGoAway(frame(RST_STREAM, 0, 1, Buffer.alloc(3)), 6, 'RST_STREAM of 3 bytes');
  await expectGoAway(windowUpdate(0, 0), 1, 'a zero connection WINDOW_UPDATE');
  await expectGoAway(frame(0x5, END_HEADERS, 1, Buffer.alloc(4)), 1, 'PUSH_PROMISE from a client');
  await expectGoAway(frame(SETTINGS, 0, 1, Buffer.alloc(0)), 1, 'SETTINGS on a stream');
  await expectGoAway(settings([[INITIAL_WINDOW_SIZE, 2 ** 31]]), 3, 'a window above 2^31-1');
  await expectGoAway(settings([[MAX_FRAME_SIZE, 100]]), 1, 'a max frame size below 16384');
  await expectGoAway(windowUpdate(0, 2 ** 31 - 1), 3, 'the connection window past 2^31-1');
  await stillServes();
});

test('a stream WINDOW_UPDATE of 0 or past 2^31-1 resets that stream only', async () => {
  const c = await openRaw();
  try {
    c.send(request(1, '/t.L/Hold/wu0', 'x'), request(3, '/t.L/Hold/wumax', 'x'));
    await happened('hold-ended:wu0');
    await happened('hold-ended:wumax');
    c.send(windowUpdate(1, 0), windowUpdate(3, 2 ** 31 - 1));
    assert.equal((await c.complete(1)).rst, 1, 'PROTOCOL_ERROR');
    assert.equal((await c.complete(3)).rst, 3, 'FLOW_CONTROL_ERROR');
    await happened('cancel:wu0');
    await happened('cancel:wumax');
    c.send(request(5, '/t.L/Echo', 'still'));
    assertOk(await c.complete(5), 'still');
  } finally {
    c.close();
  }
});

test('garbage after the preface and truncated frames close the connection without harm', async () => {
  const g = await openRaw();
  g.send(Buffer.from('this is not an HTTP/2 frame at all, just text\r\n'.repeat(20)));
  await g.waitClosed();
  g.close();

  // A frame cut short, then the client leaves.
  for (const cut of [4, 9, 30]) {
    const t = await openRaw();
    t.send(request(1, '/t.L/Hold/trunc' + cut, 'x'.repeat(100)).subarray(0, cut));
    t.sock.end();
    await t.waitClosed();
  }
  // A raw socket that sends half a preface and goes away.
  const half = connect(listener.port, '127.0.0.1');
  half.on('error', () => {});
  await new Promise((r) => half.once('connect', r));
  half.end(PREFACE.subarray(0, 10));
  await new Promise((r) => half.once('close', r));
  await stillServes();
});

test('a unary call whose message is whole gives no more window for DATA it drops; past the window the stream is reset', async () => {
  const c = await openRaw();
  try {
    c.send(
      frame(HEADERS, END_HEADERS, 1, requestBlock('/t.B/Wait')),
      frame(DATA, 0, 1, grpcMessage('no-window')),
    );
    await happened('router-started:no-window');
    // 512 KiB more on the stream (the connection window allows it): dropped, and never granted back.
    for (let i = 0; i < 32; i++) c.send(frame(DATA, 0, 1, Buffer.alloc(16_384)));
    await c.barrier();
    assert.deepEqual(
      c.frames.filter((f) => f.type === WINDOW_UPDATE && f.id === 1),
      [],
      'no stream window given back',
    );
    assert.equal(c.answer(1).rst, undefined, 'still within the window');
    // Another 600 KiB passes the 1 MiB stream window the server announced: FLOW_CONTROL_ERROR.
    for (let i = 0; i < 38; i++) c.send(frame(DATA, 0, 1, Buffer.alloc(16_384)));
    assert.equal((await c.complete(1)).rst, 3, 'FLOW_CONTROL_ERROR');
    await happened('router-cancelled:no-window');
    await stillServes();
  } finally {
    c.close();
  }
});

test('a client stream reset with code 0 of a router call aborts it, unanswered; the connection lives on', async () => {
  const c = await openRaw();
  try {
    c.send(request(1, '/t.B/Wait', 'rst-fwd'));
    await happened('router-started:rst-fwd');
    c.send(rstStream(1, 0));
    await happened('router-cancelled:rst-fwd');
    c.send(request(3, '/t.B/Unary', 'ok'));
    const a = await c.complete(3);
    assert.equal(a.heads.at(-1)!['grpc-status'], '0');
    assert.deepEqual(messages(a.data), [Buffer.from('be:ok')]);
    await c.barrier();
    assert.deepEqual(
      c.frames.filter((f) => f.id === 1),
      [],
    );
  } finally {
    c.close();
  }
});

test('closing the client connection mid-call cancels raw local calls and router calls', async () => {
  const c = await openRaw();
  c.send(request(1, '/t.L/Hold/close', 'x'), request(3, '/t.B/Wait', 'close'));
  await happened('hold-ended:close');
  await happened('router-started:close');
  c.close();
  await happened('cancel:close');
  await happened('router-cancelled:close');
  await stillServes();
});

test('router: a large bidi stream (4 MiB each way) goes through the front flow-controlled', async () => {
  const size = 64 * 1024;
  const count = 64;
  let got = 0;
  // A connection of its own: a stall must not hold up the other tests' calls.
  const own = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  const call = own.makeBidiStreamRequest('/t.B/Bidi', raw, raw);
  const status = new Promise<grpc.StatusObject>((resolve, reject) => {
    call.on('data', (m: Buffer) => {
      if (!m.subarray(5).equals(streamMessage(got, size))) reject(new Error(`echo ${got} wrong`));
      got++;
    });
    call.on('status', resolve);
    call.on('error', () => {});
  });
  let sent = 0;
  void (async () => {
    for (; sent < count; sent++) {
      if (!call.write(streamMessage(sent, size))) await new Promise((r) => call.once('drain', r));
    }
    call.end();
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`stalled: ${sent} sent, ${got} echoed`));
    }, 8000);
  });
  try {
    const st = await Promise.race([status, timeout]);
    assert.equal(st.code, grpc.status.OK);
    assert.equal(got, count);
  } finally {
    clearTimeout(timer);
    own.close();
  }
});
