// The busiest streams (Watch and LeaseKeepAlive) served by the HTTP/2 front (api/http/h2_server.ts)
// without grpc-js. Forwarding them to grpc-js costs a second HTTP/2 hop per message, which halved the
// keep-alive rate. Their handlers are written against grpc-js's server duplex stream; ServerStream
// below is the part of that interface they use (events 'data', 'end', 'cancelled', 'close'; write,
// end, destroy), and it hands the Watch stream a ResponseWriter that sends framed bytes straight to
// the front.
import { EventEmitter } from 'node:events';
import { status as Code } from '@grpc/grpc-js';
import type { LocalCall, RequestHead, StreamSink } from '../http/h2_server.ts';
import type { ResponseWriter } from './watch_writer.ts';
import { frame, GRPC_PREFIX } from '../http/grpc_message.ts';
import { ownBytes, plainGrpc } from './fast_unary.ts';

/** A bidirectional-stream method served here: its grpc-js handler and response serializer. */
export interface StreamMethod {
  handler(call: ServerStream): void;
  serialize(v: unknown): Buffer;
}

/** The front's route function for `routes`' uncompressed gRPC POSTs, else undefined. */
export function streamRouter(
  routes: ReadonlyMap<string, StreamMethod>,
  maxReceiveBytes: number,
): (head: RequestHead, sink: StreamSink) => LocalCall | undefined {
  return (head, sink) => {
    const m = routes.get(head.path);
    if (m === undefined || !plainGrpc(head)) return undefined;
    const call = new ServerStream(sink, m.serialize);
    const driver = new StreamDriver(call, maxReceiveBytes);
    m.handler(call);
    return driver;
  };
}

/** What a handler sees: the subset of grpc-js's ServerDuplexStream that tetcd's handlers use. */
export class ServerStream extends EventEmitter {
  /** True once the client reset the stream or the connection went away. */
  cancelled = false;
  /** Framed writes for the Watch stream (see watch_writer.ts). */
  readonly tetcdWriter: ResponseWriter;
  private finished = false;

  constructor(
    private readonly sink: StreamSink,
    private readonly serialize: (v: unknown) => Buffer,
  ) {
    super();
    this.tetcdWriter = {
      framed: true,
      write: (b, done) => {
        if (!this.finished) sink.send(b, done);
      },
      cork() {},
      uncork() {},
    };
  }

  get isFinished(): boolean {
    return this.finished;
  }

  write(msg: unknown, cb?: () => void): boolean {
    if (this.finished) return false;
    this.sink.send(frame(this.serialize(msg)), cb);
    return true;
  }

  /** Ends the answer with status OK, after everything written. */
  end(): void {
    this.finishWith(Code.OK, '');
  }

  /** Ends the answer with the error's gRPC code and details (INTERNAL when it carries none). */
  destroy(err?: Error & { code?: unknown; details?: unknown }): void {
    const code = typeof err?.code === 'number' ? err.code : Code.INTERNAL;
    const details = typeof err?.details === 'string' ? err.details : (err?.message ?? '');
    this.finishWith(code, details);
  }

  /** The client is gone: nothing more can be sent. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelled = true;
    this.emit('cancelled');
    this.emit('close');
  }

  finishWith(code: number, details: string): void {
    if (this.finished) return;
    this.finished = true;
    this.sink.fail(code, details);
    this.emit('close');
  }
}

/** Feeds the client's DATA to a ServerStream as whole messages. */
class StreamDriver implements LocalCall {
  private partial: Buffer | undefined;

  constructor(
    private readonly call: ServerStream,
    private readonly maxBytes: number,
  ) {}

  data(chunk: Buffer): void {
    const buf = this.partial === undefined ? chunk : Buffer.concat([this.partial, chunk]);
    this.partial = undefined;
    let pos = 0;
    while (buf.length - pos >= GRPC_PREFIX && !this.call.isFinished) {
      const len = buf.readUInt32BE(pos + 1);
      if (len > this.maxBytes) {
        return this.call.finishWith(
          Code.RESOURCE_EXHAUSTED,
          `Received message larger than max (${len} vs ${this.maxBytes})`,
        );
      }
      if (buf[pos] !== 0) {
        return this.call.finishWith(
          Code.INTERNAL,
          'Received compressed message but "grpc-encoding" header was identity',
        );
      }
      const end = pos + GRPC_PREFIX + len;
      if (end > buf.length) break;
      const msg = ownBytes(buf.subarray(pos + GRPC_PREFIX, end));
      pos = end;
      this.call.emit('data', msg);
    }
    if (pos < buf.length && !this.call.isFinished) this.partial = buf.subarray(pos);
  }

  end(): void {
    if (this.call.isFinished) return;
    if (this.partial !== undefined) {
      return this.call.finishWith(Code.INTERNAL, 'the stream ended inside a message');
    }
    this.call.emit('end');
  }

  cancel(): void {
    this.call.cancel();
  }
}
