// Unary calls on the hot path (the KV service) served by the HTTP/2 front (api/http/h2_server.ts)
// without grpc-js: grpc-js builds, per call, an intercepting call, metadata objects, a message decoder
// and a chain of callbacks; profiles put that above the store's own work. A routed call costs one
// header check, one body read and one answer written as three pre-framed pieces. Everything else
// (streams, compressed messages, other services) is forwarded to grpc-js by the front.
import { status as Code } from '@grpc/grpc-js';
import type { LocalCall, RequestHead, StreamSink } from '../http/h2_server.ts';
import { GRPC_PREFIX } from '../http/grpc_message.ts';

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

/** The front's route function: a call for `routes`' uncompressed gRPC POSTs, else undefined. */
export function unaryRouter(
  routes: ReadonlyMap<string, FastHandler>,
  opts: FastUnaryOptions,
): (head: RequestHead, sink: StreamSink) => LocalCall | undefined {
  return (head, sink) => {
    const handler = routes.get(head.path);
    if (handler === undefined || !plainGrpc(head)) return undefined;
    return new UnaryCall(sink, head.path, handler, opts, head.timeout);
  };
}

/** Only uncompressed gRPC POSTs take the short path; anything unusual is grpc-js's to judge. */
export function plainGrpc(h: RequestHead): boolean {
  return (
    h.method === 'POST' &&
    h.contentType.startsWith('application/grpc') &&
    (h.encoding === undefined || h.encoding === 'identity')
  );
}

/** One routed call: collects the request message, runs the handler, answers once. */
export class UnaryCall implements LocalCall {
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private body: Buffer | undefined;
  private parts: Buffer[] | undefined;
  private checked = false;

  constructor(
    private readonly sink: StreamSink,
    private readonly path: string,
    private readonly handler: FastHandler,
    private readonly opts: FastUnaryOptions,
    private readonly timeout: string | undefined,
  ) {}

  cancel(): void {
    this.finish();
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
    if (len > max) this.fail(Code.RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs ${max})`);
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

  /** Marks the call answered (or abandoned); true if it already was. */
  private finish(): boolean {
    if (this.finished) return true;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return false;
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
    const ms = timeoutMs(this.timeout);
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
    if (this.finish()) return;
    this.sink.reply(out);
  }

  private fail(code: number, details: string): void {
    if (this.finish()) return;
    this.sink.fail(code, details);
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
