// One HTTP/2 stream of a client connection: what a call sees of it (RequestHead, StreamSink, LocalCall)
// and the state the connection and flow control keep for it.
import type { Field } from './hpack.ts';
import { STREAM_WINDOW } from './limits.ts';

/** What routing needs of a request's header block. */
export interface RequestHead {
  method: string;
  path: string;
  contentType: string;
  /** grpc-encoding, if sent. */
  encoding: string | undefined;
  /** grpc-timeout, if sent. */
  timeout: string | undefined;
  /** Every field of the block, in order (metadata). */
  fields: readonly Field[];
}

/** How a locally served call answers; every method is a no-op once the stream is done. */
export interface StreamSink {
  /** Status 200, one gRPC message (the 5-byte prefix is added here) and grpc-status 0. */
  reply(message: Uint8Array): void;
  /** The end of the answer: grpc-status `code` (and grpc-message `details` unless empty). */
  fail(code: number, details: string): void;
  /**
   * One message of a streamed answer, already framed (prefix included); the response headers go
   * first, once. `done` runs when the bytes are written to the socket (never if the stream is gone).
   */
  send(framed: Buffer, done?: () => void): void;
}

/** A stream's handler: fed the request's DATA payloads, then its end (or a cancel). */
export interface LocalCall {
  data(chunk: Buffer): void;
  end(): void;
  /** The client reset the stream or the connection is gone: no answer can be sent. */
  cancel(): void;
}

/** Where a stream's answers go (flow_control.ts). */
export interface StreamHost {
  reply(s: Stream, message: Uint8Array): void;
  failCall(s: Stream, code: number, details: string): void;
  send(s: Stream, framed: Buffer, done?: () => void): void;
}

export class Stream implements StreamSink {
  /**
   * What the client lets this stream send beyond its SETTINGS_INITIAL_WINDOW_SIZE: WINDOW_UPDATEs
   * minus DATA sent. The window is the initial size plus this, so a new initial size applies to
   * every stream at once without visiting them (RFC 9113 6.9.2).
   */
  sendDelta = 0;
  /** DATA bytes consumed since the last WINDOW_UPDATE for the stream. */
  recvUnacked = 0;
  /** What the client may still send on the stream: our SETTINGS window plus grants, minus DATA. */
  recvWindow = STREAM_WINDOW;
  /** DATA bytes received but not granted back yet, while too many answers wait (flow_control.ts). */
  held = 0;
  /** DATA waiting for flow-control window. */
  queue: Buffer[] = [];
  queued = 0;
  /** The trailer block sent after the queue (else the end goes on the last DATA frame). */
  tail: Buffer | undefined;
  /** Our END_STREAM is decided: it goes out once the queue drains. */
  ending = false;
  /** The client has half-closed (END_STREAM seen). */
  remoteEnded = false;
  /** Gone from the connection: answered and flushed, reset, or the connection closed. */
  done = false;
  local: LocalCall | undefined;
  /** The response headers are out (later status goes in trailers without `:status`). */
  headersSent = false;
  /** DATA bytes ever queued / ever written, and the callbacks waiting for a written total. */
  queuedTotal = 0;
  sentTotal = 0;
  dones: { at: number; done: () => void }[] | undefined;
  /** Bytes this stream is charged against its connection's budget while open (connection.ts). */
  cost = 0;

  constructor(
    private readonly host: StreamHost,
    readonly id: number,
  ) {}

  reply(message: Uint8Array): void {
    this.host.reply(this, message);
  }

  fail(code: number, details: string): void {
    this.host.failCall(this, code, details);
  }

  send(framed: Buffer, done?: () => void): void {
    this.host.send(this, framed, done);
  }
}

/** The routing facts of a request, or undefined when a pseudo-header routing needs is missing. */
export function requestHead(fields: Field[]): RequestHead | undefined {
  let method: string | undefined;
  let path: string | undefined;
  let contentType = '';
  let encoding: string | undefined;
  let timeout: string | undefined;
  for (const [name, value] of fields) {
    switch (name) {
      case ':method':
        method = value;
        break;
      case ':path':
        path = value;
        break;
      case 'content-type':
        contentType = value;
        break;
      case 'grpc-encoding':
        encoding = value;
        break;
      case 'grpc-timeout':
        timeout = value;
        break;
    }
  }
  if (method === undefined || path === undefined) return undefined;
  return { method, path, contentType, encoding, timeout, fields };
}

/** How many closed streams a connection remembers (what more DATA on them may be). */
export const CLOSED_KEPT = 256;
/** A remembered stream that the client had ended (or reset): more frames on it are STREAM_CLOSED. */
export const CLIENT_ENDED = -1;

/**
 * The last CLOSED_KEPT streams closed on a connection, oldest first, each with what the client may
 * still send on it: the window it had when we closed the stream (it may not know yet; more is a
 * flow-control violation), or CLIENT_ENDED.
 */
export class ClosedStreams {
  private readonly left = new Map<number, number>();

  add(id: number, left: number): void {
    const m = this.left;
    m.set(id, left);
    if (m.size > CLOSED_KEPT) m.delete(m.keys().next().value!);
  }

  /** What is known of closed stream `id`: CLIENT_ENDED, the window left, or undefined (forgotten). */
  get(id: number): number | undefined {
    return this.left.get(id);
  }

  /** `n` bytes of DATA arrived on closed stream `id` (known, not CLIENT_ENDED): false past its window. */
  spend(id: number, n: number): boolean {
    const left = this.left.get(id)! - n;
    if (left < 0) return false;
    this.left.set(id, left);
    return true;
  }
}
