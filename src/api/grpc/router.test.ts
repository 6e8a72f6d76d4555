import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { listenClient, type ClientListener } from '../http/listener.ts';
import type { LocalCall, RequestHead, StreamSink } from '../http/h2_server.ts';
import { messageType } from '../../proto/index.ts';
import { ErrKeyNotFound } from '../../server/errors.ts';
import { GrpcRouter, bidi, serverStream, unary, type StreamIn, type StreamOut } from './router.ts';
import type { CallContext } from './call.ts';
import { Code, StatusError } from './status.ts';
import { enableExtensive, scrape } from '../../pkg/metrics.ts';

// One router on one listener (node:http2 as the client): etcdserverpb.Maintenance with Status (its
// behaviour chosen by the request bytes) and Snapshot, etcdserverpb.KV with a custom error map, and
// etcdserverpb.Lease with a bidi LeaseKeepAlive that the call-level tests drive through a recorder
// StreamSink. No grpc-js: every byte on the wire is the test's own.

const MAX = 1 << 20;
const StatusResponse = messageType('etcdserverpb.StatusResponse');
const SnapshotResponse = messageType('etcdserverpb.SnapshotResponse');

/** What the router logged (unexpected errors). */
const logs: string[] = [];
const router = new GrpcRouter({
  maxReceiveBytes: MAX,
  log: pino({ level: 'error' }, { write: (s: string) => void logs.push(s) }),
});

/** The context of the last call of each mode that keeps one. */
const contexts = new Map<string, CallContext>();
/** When each hanging call's signal fired (performance.now()). */
const abortedAt = new Map<string, number>();

router.service('etcdserverpb.Maintenance', {
  Status: unary((raw, ctx) => {
    const mode = raw.toString();
    switch (mode) {
      case '':
        return { version: 'empty request' };
      case 'sync-object':
        return { version: '3.4.99', dbSize: 42 };
      case 'async-object':
        return Promise.resolve({ version: 'later', dbSize: 43 });
      case 'sync-bytes':
        return Buffer.from('sync bytes');
      case 'async-bytes':
        return Promise.resolve(new Uint8Array([1, 2, 3]));
      case 'status':
        throw new StatusError(Code.FAILED_PRECONDITION, 'no such luck: 100% é');
      case 'plain':
        throw new Error('boom: 100% wrong é');
      case 'reject':
        return Promise.reject(new Error('later boom'));
      case 'table':
        throw new ErrKeyNotFound();
      case 'unencodable':
        return {
          get version(): string {
            throw new Error('cannot encode');
          },
        };
      case 'meta':
        return { version: `${ctx.metadata('x-tag')}|${ctx.metadata('x-none')}` };
      default:
        if (mode.startsWith('hang')) {
          contexts.set(mode, ctx);
          ctx.signal.addEventListener('abort', () => abortedAt.set(mode, performance.now()));
          return new Promise<never>(() => {});
        }
        return Buffer.from(`echo:${mode}`);
    }
  }),
  Snapshot: serverStream(async (raw, _ctx, out) => {
    const n = Number(raw.toString() || '3');
    for (let i = 0; i < n; i++) {
      await Promise.resolve();
      out.write({ remainingBytes: n - 1 - i, blob: Buffer.from(`part${i}`) });
    }
    if (raw.toString() === 'fail') throw new Error('snapshot broke');
  }),
});

router.service(
  'etcdserverpb.KV',
  {
    Range: unary(() => {
      throw new Error('range broke');
    }),
    Put: unary(() => ({
      get header(): object {
        throw new Error('put cannot encode');
      },
    })),
    DeleteRange: unary(() => {
      throw new StatusError(Code.ABORTED, 'as it is');
    }),
  },
  (err, path) => ({ code: Code.DATA_LOSS, details: `custom ${path}: ${(err as Error).message}` }),
);

/** The bidi handler's side of the last LeaseKeepAlive call, as the tests drive it. */
interface BidiProbe {
  out: StreamOut;
  ctx: CallContext;
  events: string[];
}
let probe: BidiProbe | undefined;
/** What the next LeaseKeepAlive opener does before returning (answer at once, throw, ...). */
let onOpen: ((p: BidiProbe) => void) | undefined;
router.service('etcdserverpb.Lease', {
  LeaseKeepAlive: bidi((out, ctx) => {
    const p: BidiProbe = { out, ctx, events: [] };
    probe = p;
    onOpen?.(p);
    return {
      message: (m) => void p.events.push(`message:${m.toString()}`),
      end: () => void p.events.push('end'),
      close: () => void p.events.push('close'),
    } satisfies StreamIn;
  }),
});

let listener: ClientListener;
let session: http2.ClientHttp2Session;

before(async () => {
  listener = await listenClient('127.0.0.1', 0, { route: router.route }, createHttpServer());
  session = http2.connect(`http://127.0.0.1:${listener.port}`);
});

after(async () => {
  session.close();
  await listener.close();
});

// ---- a node:http2 client

interface Answer {
  /** grpc-status, from the headers (trailers-only answer) or the trailers. */
  code: number | undefined;
  details: string | undefined;
  /** The response's messages, prefixes removed. */
  messages: Buffer[];
  rstCode: number;
}

interface CallOptions {
  headers?: http2.OutgoingHttpHeaders;
  /** false: the request stays open (only `body` is written). */
  end?: boolean;
  s?: http2.ClientHttp2Session;
}

/** How long a test waits for an answer that must come. */
const ANSWER_MS = 5000;

/** Resolves once `cond()` holds, checked every turn of the event loop; rejects after ANSWER_MS. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = performance.now() + ANSWER_MS;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`${what} did not happen`);
    await new Promise((r) => setImmediate(r));
  }
}

/** One request with a hand-made body; resolves when the stream closes. */
function rpc(path: string, body: Buffer, o: CallOptions = {}): Promise<Answer> {
  const req = (o.s ?? session).request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...o.headers,
  });
  return new Promise<Answer>((resolve, reject) => {
    const a: Answer = { code: undefined, details: undefined, messages: [], rstCode: 0 };
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) a.code = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) a.details = decodeURIComponent(String(h['grpc-message']));
    };
    const parts: Buffer[] = [];
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('error', reject);
    // A missing answer fails the test instead of hanging it.
    const t = setTimeout(() => {
      req.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer to ${path} within ${ANSWER_MS} ms`));
    }, ANSWER_MS);
    req.on('close', () => {
      clearTimeout(t);
      a.messages = unframe(Buffer.concat(parts));
      a.rstCode = req.rstCode ?? 0;
      resolve(a);
    });
    if (o.end === false) req.write(body);
    else if (!req.writableEnded) req.end(body); // a GET is ended by the client itself
  });
}

/** A status-only answer: [code, details]. */
async function statusOf(p: Promise<Answer>): Promise<[number | undefined, string | undefined]> {
  const a = await p;
  assert.deepEqual(a.messages, [], 'no message with a failed status');
  return [a.code, a.details];
}

function framed(...msgs: (string | Buffer)[]): Buffer {
  return Buffer.concat(msgs.map((m) => prefixed(typeof m === 'string' ? Buffer.from(m) : m, 0)));
}

function prefixed(b: Buffer, flag: number, len = b.length): Buffer {
  const p = Buffer.alloc(5);
  p[0] = flag;
  p.writeUInt32BE(len, 1);
  return Buffer.concat([p, b]);
}

function unframe(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length;) {
    assert.equal(b[at], 0, 'answers are not compressed');
    const len = b.readUInt32BE(at + 1);
    out.push(b.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

const STATUS = '/etcdserverpb.Maintenance/Status';

/** The single message of an OK answer. */
async function okMessage(p: Promise<Answer>): Promise<Buffer> {
  const a = await p;
  assert.equal(a.code, Code.OK, a.details);
  assert.equal(a.messages.length, 1);
  return a.messages[0]!;
}

// ---- through a real listener

test('a unary handler answers synchronously or later, with bytes as they are', async () => {
  assert.equal((await okMessage(rpc(STATUS, framed('sync-bytes')))).toString(), 'sync bytes');
  assert.deepEqual([...(await okMessage(rpc(STATUS, framed('async-bytes'))))], [1, 2, 3]);
});

test("a unary handler's object result is encoded with the method's .proto response type", async () => {
  const sync = StatusResponse.decode(await okMessage(rpc(STATUS, framed('sync-object')))) as unknown as {
    version: string;
    dbSize: unknown;
  };
  assert.equal(sync.version, '3.4.99');
  assert.equal(Number(sync.dbSize), 42);
  const later = StatusResponse.decode(await okMessage(rpc(STATUS, framed('async-object')))) as unknown as {
    version: string;
    dbSize: unknown;
  };
  assert.equal(later.version, 'later');
  assert.equal(Number(later.dbSize), 43);
});

test('an empty request message reaches the handler as zero bytes', async () => {
  const m = StatusResponse.decode(await okMessage(rpc(STATUS, framed('')))) as unknown as { version: string };
  assert.equal(m.version, 'empty request');
});

test('50 parallel calls on one session each get their own answer', async () => {
  const answers = await Promise.all(
    Array.from({ length: 50 }, (_, i) => okMessage(rpc(STATUS, framed(`n${i}`)))),
  );
  assert.deepEqual(
    answers.map(String),
    Array.from({ length: 50 }, (_, i) => `echo:n${i}`),
  );
});

test('metadata: the handler reads the first value of a request header field', async () => {
  const m = StatusResponse.decode(
    await okMessage(rpc(STATUS, framed('meta'), { headers: { 'x-tag': 'first' } })),
  ) as unknown as { version: string };
  assert.equal(m.version, 'first|undefined');
});

test('a server stream sends its messages in order, encoded with the response type, then OK', async () => {
  const a = await rpc('/etcdserverpb.Maintenance/Snapshot', framed('3'));
  assert.equal(a.code, Code.OK);
  const parts = a.messages.map(
    (m) => SnapshotResponse.decode(m) as unknown as { remainingBytes: unknown; blob: Uint8Array },
  );
  assert.deepEqual(
    parts.map((p) => [Number(p.remainingBytes), Buffer.from(p.blob).toString()]),
    [
      [2, 'part0'],
      [1, 'part1'],
      [0, 'part2'],
    ],
  );
});

// ---- compression

test('grpc-encoding gzip: a compressed message (flag 1) is inflated; an uncompressed one passes', async () => {
  const gz = { headers: { 'grpc-encoding': 'gzip' } };
  const zipped = prefixed(gzipSync(Buffer.from('zipped')), 1);
  assert.equal((await okMessage(rpc(STATUS, zipped, gz))).toString(), 'echo:zipped');
  assert.equal((await okMessage(rpc(STATUS, framed('plain-in-gzip'), gz))).toString(), 'echo:plain-in-gzip');
});

test('grpc-encoding identity is served; deflate is refused UNIMPLEMENTED as grpc-go words it', async () => {
  const id = rpc(STATUS, framed('id'), { headers: { 'grpc-encoding': 'identity' } });
  assert.equal((await okMessage(id)).toString(), 'echo:id');
  assert.deepEqual(await statusOf(rpc(STATUS, framed('x'), { headers: { 'grpc-encoding': 'deflate' } })), [
    Code.UNIMPLEMENTED,
    'grpc: Decompressor is not installed for grpc-encoding "deflate"',
  ]);
});

test('a compressed flag without grpc-encoding, or with identity, is INTERNAL', async () => {
  const body = prefixed(gzipSync(Buffer.from('x')), 1);
  const want = [Code.INTERNAL, 'grpc: compressed flag set with identity or empty encoding'];
  assert.deepEqual(await statusOf(rpc(STATUS, body)), want);
  assert.deepEqual(await statusOf(rpc(STATUS, body, { headers: { 'grpc-encoding': 'identity' } })), want);
});

test('a gzip bomb is RESOURCE_EXHAUSTED without being inflated whole', async () => {
  // 250 gzip members of 4 MiB of zeros each: 1 MB on the wire (within MAX), 1000 MiB inflated.
  const member = gzipSync(Buffer.alloc(4 << 20), { level: 9 });
  const bomb = Buffer.concat(Array.from({ length: 250 }, () => member));
  assert.ok(bomb.length <= MAX);
  const rss = process.resourceUsage().maxRSS; // KiB, the peak so far
  const [code, details] = await statusOf(
    rpc(STATUS, prefixed(bomb, 1), { headers: { 'grpc-encoding': 'gzip' } }),
  );
  assert.equal(code, Code.RESOURCE_EXHAUSTED);
  assert.match(details!, /^grpc: received message after decompression larger than max/);
  const grew = process.resourceUsage().maxRSS - rss;
  assert.ok(grew < 128 * 1024, `peak memory grew ${grew} KiB`);
});

// ---- errors

test('a StatusError reaches the client with its code and details', async () => {
  assert.deepEqual(await statusOf(rpc(STATUS, framed('status'))), [
    Code.FAILED_PRECONDITION,
    'no such luck: 100% é',
  ]);
});

test('a plain Error (outside the table) is UNKNOWN with its message, and logged with the method', async () => {
  logs.length = 0;
  assert.deepEqual(await statusOf(rpc(STATUS, framed('plain'))), [Code.UNKNOWN, 'boom: 100% wrong é']);
  assert.deepEqual(await statusOf(rpc(STATUS, framed('reject'))), [Code.UNKNOWN, 'later boom']);
  assert.equal(logs.length, 2);
  assert.match(logs[0]!, /etcdserverpb\.Maintenance\/Status/);
});

test("an error of the table gets its code and etcd's message", async () => {
  assert.deepEqual(await statusOf(rpc(STATUS, framed('table'))), [
    Code.INVALID_ARGUMENT,
    'etcdserver: key not found',
  ]);
});

test("a response that fails to encode is answered through the method's error map", async () => {
  assert.deepEqual(await statusOf(rpc(STATUS, framed('unencodable'))), [Code.UNKNOWN, 'cannot encode']);
  assert.deepEqual(await statusOf(rpc('/etcdserverpb.KV/Put', framed(''))), [
    Code.DATA_LOSS,
    'custom /etcdserverpb.KV/Put: put cannot encode',
  ]);
});

test('the ErrorMap given to router.service maps that service’s errors; a StatusError passes it by', async () => {
  assert.deepEqual(await statusOf(rpc('/etcdserverpb.KV/Range', framed(''))), [
    Code.DATA_LOSS,
    'custom /etcdserverpb.KV/Range: range broke',
  ]);
  assert.deepEqual(await statusOf(rpc('/etcdserverpb.KV/DeleteRange', framed(''))), [
    Code.ABORTED,
    'as it is',
  ]);
});

// ---- limits and deadlines

test('a prefix over maxReceiveBytes is RESOURCE_EXHAUSTED before the body comes; the connection serves on', async () => {
  const prefix = Buffer.from([0, 0, 0, 0, 0]);
  prefix.writeUInt32BE(MAX + 1, 1);
  // The request stays open with only the prefix sent: the answer cannot wait for the body.
  assert.deepEqual(await statusOf(rpc(STATUS, prefix, { end: false })), [
    Code.RESOURCE_EXHAUSTED,
    `grpc: received message larger than max (${MAX + 1} vs. ${MAX})`,
  ]);
  assert.equal((await okMessage(rpc(STATUS, framed('after')))).toString(), 'echo:after');
  // A message of exactly the limit is taken.
  const full = await okMessage(rpc(STATUS, framed(Buffer.alloc(MAX, 97))));
  assert.equal(full.length, 'echo:'.length + MAX);
});

test('grpc-timeout 100m on a handler that never settles: DEADLINE_EXCEEDED, not before, and ctx.signal aborts', async () => {
  const started = performance.now();
  const a = rpc(STATUS, framed('hang-deadline'), { headers: { 'grpc-timeout': '100m' } });
  assert.deepEqual(await statusOf(a), [Code.DEADLINE_EXCEEDED, 'context deadline exceeded']);
  assert.ok(performance.now() - started >= 99, `answered after ${performance.now() - started} ms`);
  assert.equal(contexts.get('hang-deadline')!.signal.aborted, true);
  assert.ok(abortedAt.get('hang-deadline')! - started >= 99);
});

test('a client reset aborts the running handler’s signal', async () => {
  const req = session.request({ ':method': 'POST', ':path': STATUS, 'content-type': 'application/grpc' });
  req.end(framed('hang-reset'));
  await until(() => contexts.has('hang-reset'), 'the handler start');
  const closed = new Promise((r) => req.on('close', r));
  req.close(http2.constants.NGHTTP2_CANCEL);
  await closed;
  await until(() => abortedAt.has('hang-reset'), 'the abort');
  assert.equal(contexts.get('hang-reset')!.signal.aborted, true);
});

// ---- framing

test('END_STREAM before any message is UNKNOWN EOF', async () => {
  assert.deepEqual(await statusOf(rpc(STATUS, Buffer.alloc(0))), [Code.UNKNOWN, 'EOF']);
});

test('a request cut in the prefix or in the body is UNKNOWN unexpected EOF', async () => {
  const whole = framed('abc');
  assert.deepEqual(await statusOf(rpc(STATUS, whole.subarray(0, 3))), [Code.UNKNOWN, 'unexpected EOF']);
  assert.deepEqual(await statusOf(rpc(STATUS, whole.subarray(0, 6))), [Code.UNKNOWN, 'unexpected EOF']);
});

test('two messages on a unary call: the first is answered, the second dropped', async () => {
  const a = await rpc(STATUS, framed('first', 'second'));
  assert.equal(a.code, Code.OK);
  assert.deepEqual(a.messages.map(String), ['echo:first']);
});

// ---- refusals

test('a GET is UNIMPLEMENTED: invalid gRPC request method', async () => {
  assert.deepEqual(await statusOf(rpc(STATUS, Buffer.alloc(0), { headers: { ':method': 'GET' } })), [
    Code.UNIMPLEMENTED,
    'invalid gRPC request method "GET"',
  ]);
});

test('a content-type other than application/grpc is UNIMPLEMENTED with the content-type', async () => {
  assert.deepEqual(
    await statusOf(rpc(STATUS, framed('x'), { headers: { 'content-type': 'application/json' } })),
    [Code.UNIMPLEMENTED, 'invalid gRPC request content-type "application/json"'],
  );
  const proto = rpc(STATUS, framed('x'), { headers: { 'content-type': 'application/grpc+proto' } });
  assert.equal((await okMessage(proto)).toString(), 'echo:x');
});

test('a content-type that only begins like application/grpc is refused (grpc-go wants +, ; or nothing after it)', async () => {
  for (const ct of ['application/grpc-web', 'application/grpcx']) {
    assert.deepEqual(await statusOf(rpc(STATUS, framed('x'), { headers: { 'content-type': ct } })), [
      Code.UNIMPLEMENTED,
      `invalid gRPC request content-type "${ct}"`,
    ]);
  }
});

test('an unknown service, an unknown method, and a .proto method the impl lacks are UNIMPLEMENTED', async () => {
  assert.deepEqual(await statusOf(rpc('/x.Y/Z', framed('x'))), [Code.UNIMPLEMENTED, 'unknown service x.Y']);
  assert.deepEqual(await statusOf(rpc('/etcdserverpb.Maintenance/Nope', framed('x'))), [
    Code.UNIMPLEMENTED,
    'unknown method Nope for service etcdserverpb.Maintenance',
  ]);
  assert.deepEqual(await statusOf(rpc('/etcdserverpb.Maintenance/Defragment', framed(''))), [
    Code.UNIMPLEMENTED,
    'unknown method Defragment for service etcdserverpb.Maintenance',
  ]);
});

test('registering a handler of the wrong kind, or a method the .proto lacks, throws', () => {
  const r = new GrpcRouter({ maxReceiveBytes: MAX, log: pino({ level: 'silent' }) });
  assert.throws(
    () => r.service('etcdserverpb.Watch', { Watch: unary(() => new Uint8Array()) }),
    /router: etcdserverpb\.Watch\/Watch is bidi, not unary/,
  );
  assert.throws(
    () => r.service('etcdserverpb.Maintenance', { Snapshot: unary(() => new Uint8Array()) }),
    /is server, not unary/,
  );
  assert.throws(
    () => r.service('etcdserverpb.Maintenance', { Nope: unary(() => new Uint8Array()) }),
    /router: etcdserverpb\.Maintenance has no method Nope/,
  );
});

// ---- call level, through a recorder StreamSink

type Event = ['reply', string] | ['send', string] | ['fail', number, string];

/** A sink that records every answer, in order (a second answer would show). */
function recorder(): StreamSink & { events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    reply: (m) => void events.push(['reply', Buffer.from(m).toString()]),
    send: (b, done) => {
      events.push(['send', unframe(b).map(String).join(',')]);
      done?.();
    },
    fail: (code, details) => void events.push(['fail', code, details]),
  };
}

function head(path: string, over: Partial<RequestHead> = {}): RequestHead {
  return {
    method: 'POST',
    path,
    contentType: 'application/grpc',
    encoding: undefined,
    timeout: undefined,
    fields: [
      [':method', 'POST'],
      [':path', path],
      ['content-type', 'application/grpc'],
      ['x-tag', 'one'],
      ['x-tag', 'two'],
    ],
    ...over,
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A router with one unary method whose result the test settles by hand. */
function manual(): { router: GrpcRouter; settle: (v: Buffer) => void; ctx: () => CallContext } {
  const r = new GrpcRouter({ maxReceiveBytes: 64, log: pino({ level: 'silent' }) });
  let settle: ((v: Buffer) => void) | undefined;
  let ctx: CallContext | undefined;
  r.service('etcdserverpb.Maintenance', {
    Status: unary((_raw, c) => {
      ctx = c;
      return new Promise<Buffer>((res) => (settle = res));
    }),
  });
  return { router: r, settle: (v) => settle!(v), ctx: () => ctx! };
}

test('call level: a message fed one byte per data() call is answered once; end() twice changes nothing', async () => {
  const sink = recorder();
  const call = router.route(head(STATUS), sink);
  for (const b of framed('bytewise')) call.data(Buffer.from([b]));
  call.end();
  call.end();
  await tick();
  assert.deepEqual(sink.events, [['reply', 'echo:bytewise']]);
});

test('call level: a unary call wants DATA until its message is whole, then no more (its window is not given back)', () => {
  const m = manual();
  const call = m.router.route(head(STATUS), recorder());
  const msg = framed('abc');
  assert.notEqual(call.data(msg.subarray(0, 4)), false, 'the message is not whole yet');
  assert.equal(call.data(msg.subarray(4)), false, 'the message is whole: no more wanted');
  assert.equal(call.data(Buffer.alloc(1000)), false, 'what follows is dropped');
  // A bidi call always wants its client's messages.
  const ka = router.route(head('/etcdserverpb.Lease/LeaseKeepAlive'), recorder());
  assert.notEqual(ka.data(framed('x')), false);
});

test('call level: the context carries the path and the first value of each metadata field', async () => {
  const m = manual();
  m.router.route(head(STATUS), recorder()).data(framed('x'));
  assert.equal(m.ctx().path, STATUS);
  assert.equal(m.ctx().metadata('x-tag'), 'one');
  assert.equal(m.ctx().metadata('x-absent'), undefined);
  assert.equal(m.ctx().deadline, undefined);
});

test('call level: cancel() before the handler settles: nothing is ever sent and ctx.signal is aborted', async () => {
  const m = manual();
  const sink = recorder();
  const call = m.router.route(head(STATUS, { timeout: '20m' }), sink);
  call.data(framed('x'));
  call.end();
  assert.equal(m.ctx().signal.aborted, false);
  call.cancel();
  assert.equal(m.ctx().signal.aborted, true);
  m.settle(Buffer.from('late'));
  await wait(40); // past the deadline too
  assert.deepEqual(sink.events, []);
});

test('call level: the deadline answers first and a late result is dropped', async () => {
  const m = manual();
  const sink = recorder();
  const call = m.router.route(head(STATUS, { timeout: '20m' }), sink);
  call.data(framed('x'));
  call.end();
  await wait(40);
  assert.deepEqual(sink.events, [['fail', Code.DEADLINE_EXCEEDED, 'context deadline exceeded']]);
  assert.equal(m.ctx().signal.aborted, true);
  m.settle(Buffer.from('late'));
  await tick();
  assert.equal(sink.events.length, 1);
});

test('call level: a deadline passing while the request message is still awaited is DEADLINE_EXCEEDED (as grpc-go)', async () => {
  const m = manual();
  const sink = recorder();
  const call = m.router.route(head(STATUS, { timeout: '20m' }), sink);
  call.data(framed('x').subarray(0, 3));
  await wait(40);
  assert.deepEqual(sink.events, [['fail', Code.DEADLINE_EXCEEDED, 'context deadline exceeded']]);
});

test('call level: refusals answer at once and ignore what follows', () => {
  const sink = recorder();
  const call = router.route(head('nosl'), sink);
  call.data(framed('x'));
  call.end();
  call.cancel();
  // grpc-go's code for this one (etcd 3.4's too).
  assert.deepEqual(sink.events, [['fail', Code.RESOURCE_EXHAUSTED, 'malformed method name: "nosl"']]);
});

// ---- server streaming, call level

/** A router with one server-streaming method run by `fn`. */
function streaming(fn: (out: StreamOut, ctx: CallContext) => void | Promise<void>): GrpcRouter {
  const r = new GrpcRouter({ maxReceiveBytes: 64, log: pino({ level: 'silent' }) });
  r.service('etcdserverpb.Maintenance', { Snapshot: serverStream((_raw, ctx, out) => fn(out, ctx)) });
  return r;
}
const SNAPSHOT = '/etcdserverpb.Maintenance/Snapshot';

test('server stream: messages in order, then OK once the handler resolves', async () => {
  const sink = recorder();
  const r = streaming(async (out) => {
    out.write(Buffer.from('a'));
    await tick();
    out.writeFramed(framed('b', 'c'));
    out.write(Buffer.from('d'));
  });
  const call = r.route(head(SNAPSHOT), sink);
  call.data(framed(''));
  call.end();
  await tick();
  await tick();
  assert.deepEqual(sink.events, [
    ['send', 'a'],
    ['send', 'b,c'],
    ['send', 'd'],
    ['fail', Code.OK, ''],
  ]);
});

test('server stream: a rejected handler ends the call with the mapped status after what it wrote', async () => {
  const sink = recorder();
  const r = streaming(async (out) => {
    out.write(Buffer.from('a'));
    await tick();
    throw new ErrKeyNotFound();
  });
  r.route(head(SNAPSHOT), sink).data(framed(''));
  await tick();
  await tick();
  assert.deepEqual(sink.events, [
    ['send', 'a'],
    ['fail', Code.INVALID_ARGUMENT, 'etcdserver: key not found'],
  ]);
});

test('server stream: END_STREAM before the message is UNKNOWN EOF; inside it, INTERNAL unexpected EOF', () => {
  const r = streaming(() => assert.fail('the handler must not run'));
  const none = recorder();
  r.route(head(SNAPSHOT), none).end();
  assert.deepEqual(none.events, [['fail', Code.UNKNOWN, 'EOF']]);
  const cutShort = recorder();
  const call = r.route(head(SNAPSHOT), cutShort);
  call.data(framed('abc').subarray(0, 6));
  call.end();
  assert.deepEqual(cutShort.events, [['fail', Code.INTERNAL, 'unexpected EOF']]);
});

test('server stream: a client cancel aborts ctx.signal; later writes are no-ops and out.closed is true', async () => {
  const sink = recorder();
  let out: StreamOut | undefined;
  let ctx: CallContext | undefined;
  const r = streaming((o, c) => {
    out = o;
    ctx = c;
    o.write(Buffer.from('first'));
  });
  const call = r.route(head(SNAPSHOT), sink);
  call.data(framed(''));
  assert.equal(out!.closed, false);
  call.cancel();
  assert.equal(ctx!.signal.aborted, true);
  assert.equal(out!.closed, true);
  out!.write(Buffer.from('after'));
  out!.writeFramed(framed('after'));
  out!.end();
  out!.fail(new Error('after'));
  assert.deepEqual(sink.events, [['send', 'first']]);
});

test('server stream: a response that fails to encode ends the call through the error map', () => {
  const sink = recorder();
  const r = streaming((out) => {
    out.write({
      get blob(): Buffer {
        throw new Error('blob cannot encode');
      },
    });
    out.write(Buffer.from('after'));
  });
  r.route(head(SNAPSHOT), sink).data(framed(''));
  assert.deepEqual(sink.events, [['fail', Code.UNKNOWN, 'blob cannot encode']]);
});

// ---- bidi, call level (the shared router's LeaseKeepAlive)

const KEEPALIVE = '/etcdserverpb.Lease/LeaseKeepAlive';

function openBidi(over: Partial<RequestHead> = {}): {
  call: LocalCall;
  sink: ReturnType<typeof recorder>;
  p: BidiProbe;
} {
  probe = undefined;
  const sink = recorder();
  const call = router.route(head(KEEPALIVE, over), sink);
  return { call, sink, p: probe! };
}

test('bidi: each message reaches StreamIn.message in order, end() reaches StreamIn.end, out.end() answers OK', () => {
  const { call, sink, p } = openBidi();
  const body = framed('one', 'two', 'three');
  call.data(body.subarray(0, 7));
  call.data(body.subarray(7));
  p.out.write(Buffer.from('pong'));
  call.end();
  assert.deepEqual(p.events, ['message:one', 'message:two', 'message:three', 'end']);
  p.out.end();
  assert.deepEqual(sink.events, [
    ['send', 'pong'],
    ['fail', Code.OK, ''],
  ]);
  assert.deepEqual(p.events.slice(4), ['close']);
  assert.equal(p.ctx.signal.aborted, true);
});

test('bidi: data ending mid-message is INTERNAL unexpected EOF (a stream’s RecvMsg in grpc-go), without StreamIn.end', () => {
  const { call, sink, p } = openBidi();
  call.data(framed('whole', 'cut').subarray(0, 14));
  call.end();
  assert.deepEqual(sink.events, [['fail', Code.INTERNAL, 'unexpected EOF']]);
  assert.deepEqual(p.events, ['message:whole', 'close']);
});

test('bidi: cancel calls StreamIn.close once and aborts ctx.signal', () => {
  const { call, sink, p } = openBidi();
  call.cancel();
  call.cancel();
  call.data(framed('late'));
  call.end();
  assert.deepEqual(p.events, ['close']);
  assert.equal(p.ctx.signal.aborted, true);
  assert.equal(p.out.closed, true);
  assert.deepEqual(sink.events, []);
});

test('bidi: an oversized prefix is RESOURCE_EXHAUSTED and StreamIn.close', () => {
  const { call, sink, p } = openBidi();
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MAX + 1, 1);
  call.data(Buffer.concat([framed('ok'), prefix]));
  assert.deepEqual(sink.events, [
    ['fail', Code.RESOURCE_EXHAUSTED, `grpc: received message larger than max (${MAX + 1} vs. ${MAX})`],
  ]);
  assert.deepEqual(p.events, ['message:ok', 'close']);
});

test('bidi: the deadline ends the call DEADLINE_EXCEEDED and closes StreamIn', async () => {
  const { sink, p } = openBidi({ timeout: '10m' });
  await wait(30);
  assert.deepEqual(sink.events, [['fail', Code.DEADLINE_EXCEEDED, 'context deadline exceeded']]);
  assert.deepEqual(p.events, ['close']);
});

test('bidi: a call answered while its handler opens still gets StreamIn.close once', () => {
  onOpen = (p) => p.out.fail(new StatusError(Code.UNAVAILABLE, 'not now'));
  try {
    const { sink, p } = openBidi();
    assert.deepEqual(sink.events, [['fail', Code.UNAVAILABLE, 'not now']]);
    assert.deepEqual(p.events, ['close']);
  } finally {
    onOpen = undefined;
  }
});

test('bidi: an opener that throws ends the call with the mapped status instead of throwing out of route()', () => {
  onOpen = () => {
    throw new StatusError(Code.PERMISSION_DENIED, 'no');
  };
  try {
    const sink = recorder();
    assert.doesNotThrow(() => router.route(head(KEEPALIVE), sink));
    assert.deepEqual(sink.events, [['fail', Code.PERMISSION_DENIED, 'no']]);
  } finally {
    onOpen = undefined;
  }
});

test('methodCounts: calls that reached a handler, messages and final codes, per method; handling time when extensive', async () => {
  const count = (path: string) => {
    const [service, method] = path.slice(1).split('/') as [string, string];
    return router.methodCounts().find((c) => c.service === service && c.method === method)!;
  };
  const before = count(STATUS);
  const ok0 = before.handled.get('OK')!;
  const pre0 = before.handled.get('FailedPrecondition')!;
  enableExtensive();
  await okMessage(rpc(STATUS, framed('sync-bytes')));
  await rpc(STATUS, framed('status'));
  const after = count(STATUS);
  assert.equal(after.type, 'unary');
  assert.equal(after.started - before.started, 2);
  assert.equal(after.received - before.received, 2);
  assert.equal(after.sent - before.sent, 1, 'only the answered call sent a message');
  assert.equal(after.handled.get('OK')! - ok0, 1);
  assert.equal(after.handled.get('FailedPrecondition')! - pre0, 1);
  // A method of a served service that has no handler is still listed (etcd pre-registers them).
  assert.ok(
    router.methodCounts().some((c) => c.service === 'etcdserverpb.Maintenance' && c.method === 'Defragment'),
  );
  const text = (await scrape()).body;
  assert.match(
    text,
    /^grpc_server_handling_seconds_count\{grpc_method="Status",grpc_service="etcdserverpb.Maintenance",grpc_type="unary"\} 2$/m,
  );
});
