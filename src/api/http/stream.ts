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
  /** content-length, when sent: the request's DATA must add up to it (RFC 9113 8.1.1). */
  contentLength?: number;
  /** The connection the request came on (one object per connection). */
  conn?: ConnInfo | undefined;
}

/** What a call knows of its connection: set once when the connection is accepted. */
export interface ConnInfo {
  /** host:port of the client. */
  readonly remoteAddress?: string | undefined;
  /** The subject CN of the client's certificate, verified against the trusted CA (TLS only). */
  readonly certCommonName?: string | undefined;
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
  /**
   * The bytes the call's connection holds when it is over its budget (a client that does not read
   * its answers), else 0: a call made then would have its answer dropped, so it is refused before it
   * runs. Absent where there is no such budget.
   */
  overBudget?(): number;
}

/** A stream's handler: fed the request's DATA payloads, then its end (or a cancel). */
export interface LocalCall {
  /**
   * A DATA payload of the request. `false`: the call wants no more (a unary call has its message);
   * its stream's window is then not given back, so a client cannot keep sending what is dropped.
   */
  data(chunk: Buffer): void | false;
  end(): void;
  /** The client reset the stream or the connection is gone: no answer can be sent. */
  cancel(): void;
}

/** Where a stream's answers go (flow_control.ts). */
export interface StreamHost {
  reply(s: Stream, message: Uint8Array): void;
  failCall(s: Stream, code: number, details: string): void;
  send(s: Stream, framed: Buffer, done?: () => void): void;
  overBudget(): number;
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
  /** The request's content-length (-1: none) and the DATA bytes received so far, padding aside. */
  contentLength = -1;
  dataLength = 0;

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

  overBudget(): number {
    return this.host.overBudget();
  }
}

/**
 * The routing facts of a request, or undefined when the request is malformed (RFC 9113 8.3.1, 8.2.2):
 * a pseudo-header unknown, repeated, after a regular field or missing (:method, :scheme, :path), an
 * empty :path, a connection-specific field, TE other than "trailers", a bad content-length. Field
 * names and values themselves are checked as HPACK decodes them (hpack.ts validField).
 */
export function requestHead(fields: Field[], conn?: ConnInfo): RequestHead | undefined {
  let method: string | undefined;
  let path: string | undefined;
  let scheme: string | undefined;
  let authority = false;
  let contentType = '';
  let encoding: string | undefined;
  let timeout: string | undefined;
  let contentLength = -1;
  let regular = false;
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (regular) return undefined;
      switch (name) {
        case ':method':
          if (method !== undefined) return undefined;
          method = value;
          break;
        case ':path':
          if (path !== undefined || value === '') return undefined;
          path = value;
          break;
        case ':scheme':
          if (scheme !== undefined) return undefined;
          scheme = value;
          break;
        case ':authority':
          if (authority) return undefined;
          authority = true;
          break;
        default:
          return undefined; // unknown, or a response's (:status)
      }
      continue;
    }
    regular = true;
    switch (name) {
      case 'content-type':
        contentType = value;
        break;
      case 'grpc-encoding':
        encoding = value;
        break;
      case 'grpc-timeout':
        timeout = value;
        break;
      case 'te':
        if (value !== 'trailers') return undefined;
        break;
      case 'content-length':
        if (!/^\d{1,15}$/.test(value) || (contentLength >= 0 && Number(value) !== contentLength))
          return undefined;
        contentLength = Number(value);
        break;
      case 'connection':
      case 'keep-alive':
      case 'proxy-connection':
      case 'transfer-encoding':
      case 'upgrade':
        return undefined;
    }
  }
  if (method === undefined || path === undefined || scheme === undefined) return undefined;
  // conn is always set (undefined or not), so every head has one shape.
  const head: RequestHead = { method, path, contentType, encoding, timeout, fields, conn };
  if (contentLength >= 0) head.contentLength = contentLength;
  return head;
}

/** Trailers (a header block that ends the request) may not carry pseudo-headers (RFC 9113 8.1). */
export function validTrailers(fields: Field[]): boolean {
  for (const [name] of fields) if (name.charCodeAt(0) === 0x3a) return false;
  return true;
}

/** How many closed streams a connection remembers (what more DATA on them may be). */
export const CLOSED_KEPT = 256;
/**
 * A remembered stream that the client had ended (more DATA is a stream error STREAM_CLOSED, more
 * HEADERS a connection error), or that it reset (either is a stream error STREAM_CLOSED).
 */
export const CLIENT_ENDED = -1;
export const CLIENT_RESET = -2;

/**
 * The last CLOSED_KEPT streams closed on a connection, oldest first, each with what the client may
 * still send on it: the window it had when we closed the stream (it may not know yet; more is a
 * flow-control violation), or CLIENT_ENDED.
 */
export class ClosedStreams {
  // A ring (stream ids are never 0, so 0 marks an empty slot): adding costs no allocation, and the
  // lookups, rare (frames on streams already closed), scan at most CLOSED_KEPT entries.
  private readonly ids = new Uint32Array(CLOSED_KEPT);
  private readonly left = new Float64Array(CLOSED_KEPT);
  private next = 0;

  add(id: number, left: number): void {
    this.ids[this.next] = id;
    this.left[this.next] = left;
    this.next = (this.next + 1) % CLOSED_KEPT;
  }

  /** What is known of closed stream `id`: CLIENT_ENDED/RESET, the window left, or undefined (forgotten). */
  get(id: number): number | undefined {
    const at = this.indexOf(id);
    return at < 0 ? undefined : this.left[at];
  }

  /** `n` bytes of DATA arrived on closed stream `id` (its window known): false past the window. */
  spend(id: number, n: number): boolean {
    const at = this.indexOf(id);
    const left = this.left[at]! - n;
    if (left < 0) return false;
    this.left[at] = left;
    return true;
  }

  private indexOf(id: number): number {
    for (let k = 1; k <= CLOSED_KEPT; k++) {
      const at = (this.next - k + CLOSED_KEPT) % CLOSED_KEPT;
      if (this.ids[at] === id) return at;
    }
    return -1;
  }
}
