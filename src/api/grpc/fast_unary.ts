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

/** What a routed call runs: the raw request in, the encoded response (or a promise of it) out. */
export type FastHandler = (raw: Buffer) => Uint8Array | Promise<Uint8Array>;

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
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const fail = (code: number, details: string) => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    stream.respond(
      { ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeURI(details) },
      { endStream: true },
    );
  };
  const succeed = (out: Uint8Array) => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    if (stream.destroyed || stream.closed) return;
    const frame = Buffer.allocUnsafe(GRPC_PREFIX + out.length);
    frame[0] = 0;
    frame.writeUInt32BE(out.length, 1);
    frame.set(out, GRPC_PREFIX);
    stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
    stream.end(frame);
  };
  const run = (raw: Buffer) => {
    let out: Uint8Array | Promise<Uint8Array>;
    try {
      out = handler(raw);
    } catch (err) {
      const s = opts.onError(path, err);
      fail(s.code, s.details);
      return;
    }
    if (out instanceof Promise) {
      const ms = timeoutMs(headers['grpc-timeout']);
      if (ms !== undefined) timer = setTimeout(() => fail(Code.DEADLINE_EXCEEDED, 'Deadline exceeded'), ms);
      out.then(succeed, (err: unknown) => {
        const s = opts.onError(path, err);
        fail(s.code, s.details);
      });
    } else {
      succeed(out);
    }
  };

  // An error on the stream (a reset by the client) ends the call; nothing is answered.
  stream.on('error', () => {
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
  });
  let body: Buffer | undefined;
  let parts: Buffer[] | undefined;
  let checked = false;
  stream.on('data', (chunk: Buffer) => {
    if (finished) return;
    if (body === undefined) body = chunk;
    else (parts ??= [body]).push(chunk);
    if (checked) return;
    const head = parts === undefined ? body : Buffer.concat(parts);
    if (head.length < GRPC_PREFIX) return;
    checked = true;
    const len = head.readUInt32BE(1);
    if (len > opts.maxReceiveBytes) {
      fail(Code.RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs ${opts.maxReceiveBytes})`);
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
    }
  });
  stream.on('end', () => {
    if (finished) return;
    const buf = parts === undefined ? (body ?? Buffer.alloc(0)) : Buffer.concat(parts);
    if (buf.length < GRPC_PREFIX) {
      fail(Code.UNIMPLEMENTED, 'a unary call needs exactly one request message');
      return;
    }
    const len = buf.readUInt32BE(1);
    if (buf[0] !== 0) {
      fail(Code.INTERNAL, 'Received compressed message but "grpc-encoding" header was identity');
      return;
    }
    if (buf.length !== GRPC_PREFIX + len) {
      fail(Code.INTERNAL, 'a unary call needs exactly one request message');
      return;
    }
    run(buf.subarray(GRPC_PREFIX));
  });
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
