// Where a Watch stream's responses go. grpc-js sends each message through its Writable, its call
// object and one HTTP/2 write with its own completion: with one response per watcher per flush, that
// per-message cost was a large part of fan-out. When the call is grpc-js's base call (no
// interceptors), its HTTP/2 stream is reachable: responses are then framed here (the 5-byte gRPC
// prefix, uncompressed) and a flush's responses reach HTTP/2 as one corked write. Otherwise, or if a
// grpc-js release moves these internals, responses go through call.write as usual. A stream the
// HTTP/2 front serves itself (fast_stream.ts) has a writer of its own.
import type * as grpc from '@grpc/grpc-js';

export interface ResponseWriter {
  /** True when responses must carry the gRPC message prefix (see http/grpc_message.ts). */
  readonly framed: boolean;
  /** `done` runs once the bytes are handed to the connection; never if the call is gone. */
  write(b: Buffer, done: () => void): void;
  /** Writes between cork() and uncork() go out together. */
  cork(): void;
  uncork(): void;
}

/** What is used of grpc-js's BaseServerInterceptingCall (internal, hence checked before use). */
interface BaseCall {
  stream?: unknown;
  maybeSendMetadata?: unknown;
}

interface H2Stream {
  write(b: Buffer, cb: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  destroyed: boolean;
  closed: boolean;
  writableEnded: boolean;
}

function isH2Stream(s: unknown): s is H2Stream {
  const x = s as Partial<Record<keyof H2Stream, unknown>> | undefined;
  return (
    typeof x?.write === 'function' &&
    typeof x.cork === 'function' &&
    typeof x.uncork === 'function' &&
    typeof x.destroyed === 'boolean'
  );
}

export function responseWriter(call: grpc.ServerDuplexStream<Buffer, Buffer>): ResponseWriter {
  // A stream served by the HTTP/2 front itself (fast_stream.ts) brings its own writer.
  const own = (call as unknown as { tetcdWriter?: ResponseWriter }).tetcdWriter;
  if (own !== undefined) return own;
  const base = (call as unknown as { call?: BaseCall }).call;
  const h2 = base?.stream;
  if (base && typeof base.maybeSendMetadata === 'function' && isH2Stream(h2)) {
    const sendHeaders = base.maybeSendMetadata as (this: BaseCall) => void;
    return {
      framed: true,
      write(b, done) {
        // A finished call: grpc-js reports it through 'cancelled'/'close' on the call.
        if (h2.destroyed || h2.closed || h2.writableEnded) return;
        sendHeaders.call(base);
        h2.write(b, (err) => {
          if (!err) done();
        });
      },
      cork: () => h2.cork(),
      uncork: () => h2.uncork(),
    };
  }
  return {
    framed: false,
    write: (b, done) => void call.write(b, done),
    cork() {},
    uncork() {},
  };
}
