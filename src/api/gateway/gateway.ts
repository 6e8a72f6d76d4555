// etcd's JSON gateway (`/v3/...`, and `/v3beta/...` for it) on the client port's HTTP/1.1 side: a
// request's JSON becomes the method's request bytes, and the SAME handler the gRPC router calls runs
// with a CallContext (the Authorization header is the `token` metadata); its answer, or its status,
// becomes grpc-gateway's JSON. Watch, LeaseKeepAlive, Snapshot and Observe answer a chunked stream of
// {"result":...} lines; the bidirectional ones read one request per JSON value of the body as it
// arrives. It runs only for HTTP/1.1 requests: gRPC traffic never passes here.
//
// Bounds: a unary body is read up to twice the gRPC receive limit (base64 is 4/3 of the bytes) and
// within bodyTimeoutMs, one value of a stream's body up to the same size; past either the request is
// answered and the connection closed. JSON nesting stops at Go's 10,000 levels.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';
import { serviceType } from '../../proto/index.ts';
import { Context } from '../grpc/call.ts';
import type { GrpcRouter } from '../grpc/router.ts';
import { Code, StatusError, type GrpcStatus } from '../grpc/status.ts';
import { nextValue, JsonSyntaxError, type JsonValue } from './json_scan.ts';
import { encodeRequest, JsonpbError, messageJson, namedType } from './jsonpb.ts';
import { ROUTES, gatewayPath } from './routes.ts';
import {
  callError,
  callReply,
  cors,
  gatewayError,
  plainError,
  streamErrorChunk,
  streamFailure,
} from './responses.ts';
import { JsonStreamOut, type Method } from './stream_out.ts';

export interface GatewayOptions {
  /** The largest request message (etcd: --max-request-bytes plus 512 KiB), as the router's. */
  maxReceiveBytes: number;
  log: Logger;
  /** How long a unary request's body may take to arrive in full (default 30 s). */
  bodyTimeoutMs?: number;
}

/** An `extra` hook of api/http/http.ts: true when the request was the gateway's. */
export type HttpHook = (req: IncomingMessage, res: ServerResponse) => boolean;

type Types = { req: ReturnType<typeof namedType>; resp: ReturnType<typeof namedType>; streaming: boolean };

/** The request and response types of a gRPC method path, with the .proto's field names. */
function methodTypes(grpcPath: string): Types {
  const slash = grpcPath.lastIndexOf('/');
  const m = serviceType(grpcPath.slice(1, slash)).methods[grpcPath.slice(slash + 1)]!;
  return {
    req: namedType(m.resolvedRequestType!.fullName.slice(1)),
    resp: namedType(m.resolvedResponseType!.fullName.slice(1)),
    streaming: m.requestStream === true || m.responseStream === true,
  };
}

const DEFAULT_BODY_TIMEOUT_MS = 30_000;

export function createGateway(router: GrpcRouter, opts: GatewayOptions): HttpHook {
  const types = new Map<string, Types>();
  for (const grpcPath of new Set(ROUTES.values())) types.set(grpcPath, methodTypes(grpcPath));
  const bodyLimit = 2 * opts.maxReceiveBytes + 64 * 1024;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = gatewayPath(q < 0 ? url : url.slice(0, q));
    if (path === undefined) return false;
    cors(res);
    if (req.method === 'OPTIONS') {
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      return true;
    }
    const grpcPath = ROUTES.get(path);
    if (grpcPath === undefined) {
      plainError(res, 404, 'Not Found');
      return true;
    }
    if (req.method !== 'POST') {
      plainError(res, 405, 'Method Not Allowed');
      return true;
    }
    const t = types.get(grpcPath)!;
    const m = router.lookup(grpcPath);
    // Grpc-Timeout is read before the call (grpc-gateway's AnnotateContext) and counts from here.
    const th = req.headers['grpc-timeout'];
    const timeout = Array.isArray(th) ? th[0] : th;
    const ms = timeout === undefined ? undefined : grpcTimeoutMs(timeout);
    if (ms === null) {
      req.resume();
      gatewayError(res, { code: Code.INVALID_ARGUMENT, details: `invalid grpc-timeout: ${timeout}` });
      return true;
    }
    const ctx = callContext(grpcPath, req, timeout);
    if (ms !== undefined) expireAt(ms, res, ctx);
    if (m === undefined) {
      // A service registered without this method (Auth today): what gRPC answers.
      const service = grpcPath.slice(1, grpcPath.lastIndexOf('/'));
      const name = grpcPath.slice(grpcPath.lastIndexOf('/') + 1);
      req.resume();
      const st = { code: Code.UNIMPLEMENTED, details: `unknown method ${name} for service ${service}` };
      if (t.streaming) streamFailure(res, st);
      else callError(res, st);
      return true;
    }
    if (m.kind === 'bidi') {
      serveBidi(m, t, ctx, req, res, opts.maxReceiveBytes, bodyLimit);
      return true;
    }
    readBody(req, bodyLimit, bodyTimeoutMs).then(
      (body) => {
        if (typeof body !== 'string') return refuseBody(res, body);
        // A bug of ours met by a request is that request's failure (logged, Unknown), as in the router.
        try {
          const raw = requestBytes(body, t, opts.maxReceiveBytes);
          if (raw instanceof StatusError) {
            return raw.code === Code.RESOURCE_EXHAUSTED ? callError(res, raw) : gatewayError(res, raw);
          }
          if (m.kind === 'unary') runUnary(m, t, ctx, raw, res);
          else runServerStream(m, t, ctx, raw, res);
        } catch (err) {
          callError(res, statusOf(m, ctx.path, err));
        }
      },
      (err: unknown) => opts.log.warn({ err }, 'gateway: reading a request body failed'),
    );
    return true;
  };
}

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-gateway's reading of Grpc-Timeout (any integer, then H M S m u n) in ms; null when invalid. */
export function grpcTimeoutMs(v: string): number | null {
  const unit = UNIT_MS[v[v.length - 1] ?? ''];
  if (v.length < 2 || unit === undefined || !/^[+-]?\d+$/.test(v.slice(0, -1))) return null;
  return Number(v.slice(0, -1)) * unit;
}

/**
 * The client's deadline: the call is answered "context deadline exceeded" (504, or the last chunk of
 * a stream already answering) and its context aborted, as the gateway's own gRPC client would fail it.
 */
function expireAt(ms: number, res: ServerResponse, ctx: Context): void {
  const timer = setTimeout(
    () => {
      const st = { code: Code.DEADLINE_EXCEEDED, details: 'context deadline exceeded' };
      if (!res.headersSent) gatewayError(res, st);
      else if (!res.writableEnded) res.end(streamErrorChunk(st));
      ctx.abort();
    },
    Math.min(Math.max(0, ms), 2 ** 31 - 1),
  );
  res.once('close', () => clearTimeout(timer));
}

/** What the gateway's call carries: the token of the Authorization header, Grpc-Metadata-* headers. */
function callContext(grpcPath: string, req: IncomingMessage, timeout: string | undefined): Context {
  const fields: [string, string][] = [];
  const auth = req.headers.authorization;
  if (auth !== undefined) fields.push(['token', auth], ['authorization', auth]);
  for (const [k, v] of Object.entries(req.headers)) {
    if (!k.startsWith('grpc-metadata-') || v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) fields.push([k.slice('grpc-metadata-'.length), x]);
  }
  // The client's address (failed logins are logged with it); no certificate CN: etcd ignores the CN of
  // a gateway request as an auth user.
  return new Context(grpcPath, fields, timeout, {
    remoteAddress: `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`,
  });
}

type BodyRefusal = { refused: 'too-large' | 'timeout' };

/** The whole body as text, or why it was not read (the connection is then answered and closed). */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string | BodyRefusal> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (v: string | BodyRefusal) => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve(v);
    };
    const timer = setTimeout(() => finish({ refused: 'timeout' }), timeoutMs);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) return finish({ refused: 'too-large' });
      chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks).toString('utf8')));
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.once('close', () => clearTimeout(timer));
  });
}

function refuseBody(res: ServerResponse, why: BodyRefusal): void {
  if (why.refused === 'too-large') {
    gatewayError(res, { code: Code.RESOURCE_EXHAUSTED, details: 'gateway: request body too large' }, true);
  } else {
    gatewayError(res, { code: Code.CANCELLED, details: 'gateway: request body not received in time' }, true);
  }
  res.once('finish', () => res.socket?.destroySoon());
}

/**
 * The request bytes of a unary or server-streaming call's body: its first JSON value (what follows
 * is not read, as Go's json.Decoder does), or an empty request for an empty body. Errors are the
 * gateway's InvalidArgument, or the gRPC server's RESOURCE_EXHAUSTED above the receive limit.
 */
function requestBytes(body: string, t: Types, max: number): Buffer | StatusError {
  let v: JsonValue = null;
  try {
    const next = nextValue(body, 0, true);
    if (typeof next === 'object') v = next.value;
    const raw = Buffer.from(encodeRequest(v, t.req));
    if (raw.length > max) {
      return new StatusError(
        Code.RESOURCE_EXHAUSTED,
        `grpc: received message larger than max (${raw.length} vs. ${max})`,
      );
    }
    return raw;
  } catch (err) {
    return new StatusError(Code.INVALID_ARGUMENT, decodeFailure(err));
  }
}

/**
 * Why a JSON value is no request: Go's text for what Go refuses. A request nested deeper than our
 * stack allows (a Txn inside a Txn thousands of times) is refused with words of our own.
 */
function decodeFailure(err: unknown): string {
  if (err instanceof JsonSyntaxError || err instanceof JsonpbError) return err.message;
  if (err instanceof RangeError) return 'gateway: request nested too deeply';
  throw err;
}

function statusOf(m: Method, path: string, err: unknown): GrpcStatus {
  return err instanceof StatusError ? err : m.errors(err, path);
}

/**
 * The router's call guard (etcd's interceptors: learner, leader checks), when it has one: the
 * gateway's calls pass the same checks as gRPC's, as etcd's gateway calls go through its gRPC server.
 */
interface GuardLike {
  readonly active: boolean;
  unary(path: string, raw: Buffer, ctx: Context): GrpcStatus | undefined;
  stream(path: string, ctx: Context): GrpcStatus | undefined;
  opened(call: JsonStreamOut, ctx: Context): void;
}

const guardOf = (m: Method) => (m as { guard?: GuardLike }).guard;

function runUnary(m: Method, t: Types, ctx: Context, raw: Buffer, res: ServerResponse): void {
  // A stream's call ends through its JsonStreamOut (over first, then the abort, as the router does).
  res.once('close', () => ctx.abort());
  const guard = guardOf(m);
  if (guard?.active) {
    let st: GrpcStatus | undefined;
    try {
      st = guard.unary(ctx.path, raw, ctx);
    } catch (err) {
      st = statusOf(m, ctx.path, err);
    }
    if (st !== undefined) return callError(res, st);
  }
  const run = (m as { run: (raw: Buffer, ctx: Context) => unknown }).run;
  const reply = (r: unknown) => {
    let bytes: Uint8Array;
    try {
      bytes = r instanceof Uint8Array ? r : m.encode(r as object);
    } catch (err) {
      return callError(res, statusOf(m, ctx.path, err));
    }
    callReply(res, messageJson(t.resp.decode(bytes), t.resp));
  };
  let out: unknown;
  try {
    out = run(raw, ctx);
  } catch (err) {
    return callError(res, statusOf(m, ctx.path, err));
  }
  if (out instanceof Promise) {
    out.then(reply, (err: unknown) => callError(res, statusOf(m, ctx.path, err)));
  } else reply(out);
}

/** A streamed call passes the guard at its opening (false: refused and answered). */
function streamAllowed(m: Method, ctx: Context, res: ServerResponse, out: JsonStreamOut): boolean {
  const guard = guardOf(m);
  if (guard === undefined) return true;
  let st: GrpcStatus | undefined;
  try {
    st = guard.stream(ctx.path, ctx);
    if (st === undefined) guard.opened(out, ctx);
  } catch (err) {
    st = statusOf(m, ctx.path, err);
  }
  if (st === undefined) return true;
  streamFailure(res, st);
  return false;
}

function runServerStream(m: Method, t: Types, ctx: Context, raw: Buffer, res: ServerResponse): void {
  const out = new JsonStreamOut(res, m, t.resp, ctx);
  if (!streamAllowed(m, ctx, res, out)) return;
  const run = (m as { run: (raw: Buffer, ctx: Context, out: JsonStreamOut) => unknown }).run;
  let r: unknown;
  try {
    r = run(raw, ctx, out);
  } catch (err) {
    return out.fail(err);
  }
  if (r instanceof Promise) {
    r.then(
      () => out.end(),
      (err: unknown) => out.fail(err),
    );
  }
}

interface StreamInLike {
  message(raw: Buffer): void;
  end(): void;
  close(): void;
}

/**
 * A bidirectional call: the body's JSON values are its requests, read as they arrive. The call opens
 * with the first one (a first value that does not decode is answered 500, as grpc-gateway does); a
 * later bad value ends the requests, and the answers go on.
 */
function serveBidi(
  m: Method,
  t: Types,
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  max: number,
  limit: number,
): void {
  const out = new JsonStreamOut(res, m, t.resp, ctx);
  const run = (m as { run: (out: JsonStreamOut, ctx: Context) => StreamInLike }).run;
  const decoder = new StringDecoder('utf8');
  let input: StreamInLike | undefined;
  let text = '';
  let done = false;
  const open = (): boolean => {
    try {
      if (!streamAllowed(m, ctx, res, out)) {
        done = true;
        return false;
      }
      input = run(out, ctx);
    } catch (err) {
      out.fail(err);
      return false;
    }
    out.onClose(() => input?.close());
    return true;
  };
  const stop = () => {
    done = true;
    req.off('data', onData);
    req.resume();
    if (input === undefined && !open()) return;
    input?.end();
  };
  const take = (final: boolean) => {
    let pos = 0;
    while (!done && !out.closed) {
      let next;
      try {
        next = nextValue(text, pos, final);
      } catch (err) {
        if (input !== undefined) return stop();
        done = true;
        const details = err instanceof Error ? err.message : String(err);
        return gatewayError(res, { code: Code.UNKNOWN, details });
      }
      if (next === 'eof') return stop();
      if (next === 'more') break;
      pos = next.end;
      let raw: Buffer;
      try {
        raw = Buffer.from(encodeRequest(next.value, t.req));
      } catch (err) {
        if (input !== undefined) return stop();
        done = true;
        return gatewayError(res, { code: Code.UNKNOWN, details: decodeFailure(err) });
      }
      if (input === undefined && !open()) return;
      if (raw.length > max) {
        const details = `grpc: received message larger than max (${raw.length} vs. ${max})`;
        return out.fail(new StatusError(Code.RESOURCE_EXHAUSTED, details));
      }
      input!.message(raw);
    }
    text = text.slice(pos);
    if (text.length > limit) {
      if (input !== undefined) return stop();
      done = true;
      gatewayError(res, { code: Code.RESOURCE_EXHAUSTED, details: 'gateway: request body too large' }, true);
    }
  };
  const guarded = (final: boolean) => {
    try {
      take(final);
    } catch (err) {
      done = true;
      out.fail(err);
    }
  };
  const onData = (c: Buffer) => {
    text += decoder.write(c);
    guarded(false);
  };
  req.on('data', onData);
  req.once('end', () => {
    if (done) return;
    text += decoder.end();
    guarded(true);
    if (!done) stop();
  });
}
