// Unary calls on the hot path (the KV service) answered straight on Node's HTTP/2 stream. grpc-js
// builds, per call, an intercepting call, metadata objects, a message decoder and a chain of callbacks;
// profiles put that above the store's own work. A call routed here costs one header check, one body
// read, one `respond` and one `end`. Everything else (streams, compressed messages, other services)
// still goes through grpc-js: the dispatcher below sits in front of grpc-js's own 'stream' listener on
// the HTTP/2 servers it created. Finding those servers uses grpc-js internals; when they are missing
// (a future release), nothing is rerouted and grpc-js serves every call as before.
import * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { status as Code } from '@grpc/grpc-js';
import { GRPC_PREFIX } from './watch_writer.ts';

/** What a routed call runs: the raw request in, the response (or a promise of it) out, then encoded. */
export interface FastHandler {
  run(raw: Buffer): object | Promise<object>;
  encode(resp: object): Uint8Array;
}

/** Maps a thrown error to what the client sees (the service's error table). */
export type ErrorMapper = (method: string, err: unknown) => { code: number; details: string };

export interface FastUnaryOptions {
  /** Largest accepted request message (as grpc-js's grpc.max_receive_message_length). */
  maxReceiveBytes: number;
  onError: ErrorMapper;
}

type StreamListener = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};
const OK_TRAILERS = { 'grpc-status': '0', 'grpc-message': 'OK' };

/**
 * Puts a dispatcher in front of grpc-js's stream handling on every HTTP/2 server `server` owns (call it
 * after the connection injector exists). Returns false when grpc-js's internals were not found.
 */
export function routeUnaryCalls(
  server: grpc.Server,
  routes: ReadonlyMap<string, FastHandler>,
  opts: FastUnaryOptions,
): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  const targets: http2.Http2Server[] = [];
  for (const s of servers.keys() as Iterable<Partial<http2.Http2Server>>) {
    if (typeof s.listeners !== 'function' || s.listeners('stream').length !== 1) return false;
    targets.push(s as http2.Http2Server);
  }
  for (const s of targets) {
    const fallback = s.listeners('stream')[0] as StreamListener;
    s.removeAllListeners('stream');
    s.on(
      'stream',
      (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
        const path = headers[':path'];
        const handler = path === undefined ? undefined : routes.get(path);
        if (handler === undefined || !plainGrpc(headers)) {
          fallback.call(s, stream, headers, ...rest);
          return;
        }
        serve(stream, headers, path!, handler, opts);
      },
    );
  }
  return true;
}

/** Only uncompressed gRPC POSTs take the short path; anything unusual is grpc-js's to judge. */
function plainGrpc(h: http2.IncomingHttpHeaders): boolean {
  const ct = h['content-type'];
  const enc = h['grpc-encoding'];
  return (
    h[':method'] === 'POST' &&
    typeof ct === 'string' &&
    ct.startsWith('application/grpc') &&
    (enc === undefined || enc === 'identity')
  );
}

function serve(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  path: string,
  handler: FastHandler,
  opts: FastUnaryOptions,
): void {
  const call = new UnaryCall(stream, headers, path, handler, opts);
  (stream as CallStream)[kCall] = call;
  // Listeners shared by every call (no closures per call): `this` is the stream.
  stream.on('error', onStreamError);
  stream.on('data', onStreamData);
  stream.on('end', onStreamEnd);
}

const kCall = Symbol('tetcd.unaryCall');
type CallStream = http2.ServerHttp2Stream & { [kCall]: UnaryCall };

// An error on the stream (a reset by the client) ends the call; nothing is answered.
function onStreamError(this: CallStream): void {
  this[kCall].finish();
}
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall].data(chunk);
}
function onStreamEnd(this: CallStream): void {
  this[kCall].end();
}
function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/** One routed call: collects the request message, runs the handler, answers once. */
class UnaryCall {
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private body: Buffer | undefined;
  private parts: Buffer[] | undefined;
  private checked = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly path: string,
    private readonly handler: FastHandler,
    private readonly opts: FastUnaryOptions,
  ) {}

  /** Marks the call answered (or abandoned); true if it already was. */
  finish(): boolean {
    if (this.finished) return true;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return false;
  }

  data(chunk: Buffer): void {
    if (this.finished) return;
    if (this.body === undefined) this.body = chunk;
    else (this.parts ??= [this.body]).push(chunk);
    if (this.checked) return;
    const head = this.parts === undefined ? this.body : Buffer.concat(this.parts);
    if (head.length < GRPC_PREFIX) return;
    this.checked = true;
    const len = head.readUInt32BE(1);
    const max = this.opts.maxReceiveBytes;
    if (len > max) {
      this.fail(Code.RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs ${max})`);
      this.stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }
  }

  end(): void {
    if (this.finished) return;
    const { body, parts } = this;
    const buf = parts === undefined ? (body ?? Buffer.alloc(0)) : Buffer.concat(parts);
    if (buf.length < GRPC_PREFIX) {
      this.fail(Code.UNIMPLEMENTED, 'a unary call needs exactly one request message');
      return;
    }
    const len = buf.readUInt32BE(1);
    if (buf[0] !== 0) {
      this.fail(Code.INTERNAL, 'Received compressed message but "grpc-encoding" header was identity');
      return;
    }
    if (buf.length !== GRPC_PREFIX + len) {
      this.fail(Code.INTERNAL, 'a unary call needs exactly one request message');
      return;
    }
    this.run(ownBytes(buf.subarray(GRPC_PREFIX)));
  }

  private run(raw: Buffer): void {
    let out: object | Promise<object>;
    try {
      out = this.handler.run(raw);
    } catch (err) {
      this.error(err);
      return;
    }
    if (!(out instanceof Promise)) {
      this.succeed(out);
      return;
    }
    const ms = timeoutMs(this.headers['grpc-timeout']);
    if (ms !== undefined) this.timer = setTimeout(this.expire.bind(this), ms);
    out.then(this.succeed.bind(this), this.error.bind(this));
  }

  private expire(): void {
    this.fail(Code.DEADLINE_EXCEEDED, 'Deadline exceeded');
  }

  private error(err: unknown): void {
    const s = this.opts.onError(this.path, err);
    this.fail(s.code, s.details);
  }

  private succeed(resp: object): void {
    if (this.finished) return;
    let out: Uint8Array;
    try {
      out = this.handler.encode(resp);
    } catch (err) {
      this.error(err);
      return;
    }
    const { stream } = this;
    if (this.finish() || stream.destroyed || stream.closed) return;
    const frame = Buffer.allocUnsafe(GRPC_PREFIX + out.length);
    frame[0] = 0;
    frame.writeUInt32BE(out.length, 1);
    frame.set(out, GRPC_PREFIX);
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', sendOkTrailers);
    stream.end(frame);
  }

  private fail(code: number, details: string): void {
    const { stream } = this;
    if (this.finish() || stream.destroyed || stream.closed || stream.headersSent) return;
    stream.respond(
      { ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeURI(details) },
      { endStream: true },
    );
  }
}

/**
 * A request's bytes as HTTP/2 delivered them are a view into the socket's read buffer (up to 64 KiB,
 * shared with other streams). Keys and values decoded from them live on in the watch history, so a
 * small message in a big read gets memory of its own rather than pinning the whole read.
 */
export function ownBytes(b: Buffer): Buffer {
  if (b.buffer.byteLength <= 16 * 1024 || b.length * 4 >= b.buffer.byteLength) return b;
  const own = Buffer.allocUnsafeSlow(b.length);
  b.copy(own);
  return own;
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** The gRPC timeout header ("<digits><unit>", unit one of H M S m u n) in milliseconds. */
export function timeoutMs(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || v.length < 2 || v.length > 9) return undefined;
  const unit = UNIT_MS[v[v.length - 1]!];
  const n = Number(v.slice(0, -1));
  if (unit === undefined || !Number.isInteger(n) || n < 0) return undefined;
  return Math.min(n * unit, 2 ** 31 - 1);
}
