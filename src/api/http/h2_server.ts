// The HTTP/2 side of a client port. Node's http2 module costs, per stream, a Duplex, header objects
// and a round of callbacks through nghttp2; for a small unary call that was most of the server's CPU.
// Here the frames are read and written directly: every stream is handed to the route function (the
// gRPC router, api/grpc/router.ts) as a LocalCall, and answered from pre-encoded header blocks,
// several answers to one socket write. `:authority` is not looked at, so the URL that etcdctl 3.4
// sends there does no harm.
import type { Socket } from 'node:net';
import { HeaderDecoder, encodeField, writeInt, writeString, type Field } from './hpack.ts';
import { GRPC_PREFIX, frame, writeGrpcPrefix } from './grpc_message.ts';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

// Frame types, flags and error codes of RFC 9113.
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PUSH_PROMISE = 0x5;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

export const H2_NO_ERROR = 0x0;
export const H2_PROTOCOL_ERROR = 0x1;
export const H2_INTERNAL_ERROR = 0x2;
export const H2_FLOW_CONTROL_ERROR = 0x3;
export const H2_STREAM_CLOSED = 0x5;
export const H2_FRAME_SIZE_ERROR = 0x6;
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;
export const H2_COMPRESSION_ERROR = 0x9;

const HEADER_LEN = 9;
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The largest frame accepted (SETTINGS_MAX_FRAME_SIZE is left at its default). */
const MAX_FRAME = 16_384;
/** Receive windows granted to the client: per stream (in SETTINGS) and for the connection. */
const STREAM_WINDOW = 1 << 20;
const CONN_WINDOW = 16 << 20;
/**
 * A stream's consumed bytes are granted back once this many gathered: half the default window, so a
 * client that has not yet applied our SETTINGS (and still counts 65,535) never waits for us.
 */
const GRANT_AT = 32 * 1024;
/** Answer bytes a local stream may have waiting for window before its client's window is held. */
const LOCAL_BACKLOG = 1 << 20;
/** A header block (HEADERS plus CONTINUATIONs) larger than this ends the connection. */
const MAX_HEADER_BLOCK = 1 << 20;
/** Reading from the client pauses while more than this is waiting to be written to it. */
const MAX_UNWRITTEN = 16 << 20;
/** How many streams closed after the client's END_STREAM are remembered. */
const ENDED_KEPT = 16;
/** Payloads up to this size are copied into the output slab; larger ones are written as they are. */
const COPY_MAX = 4096;
const SLAB = 64 * 1024;

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

export interface H2FrontOptions {
  /** The call that serves this request; it may answer at once through `sink`. */
  route(head: RequestHead, sink: StreamSink): LocalCall;
}

/** Serves one client connection whose first bytes (`head`, the preface included) were already read. */
export function serveH2(socket: Socket, head: Buffer, opts: H2FrontOptions): H2Connection {
  return new H2Connection(socket, head, opts);
}

// The answers' fixed header blocks: `:status: 200` (static index 8) and the gRPC content type as a
// literal without indexing (static name 31), then grpc-status 0 as trailers.
const RESPONSE_HEAD = Buffer.concat([
  Buffer.from([0x88]),
  writeInt(31, 4, 0),
  writeString(Buffer.from('application/grpc')),
]);
const OK_TRAILERS = encodeField('grpc-status', '0');
const EMPTY = Buffer.alloc(0);

class Stream implements StreamSink {
  /** Bytes the client lets this stream send. */
  sendWindow: number;
  /** DATA bytes consumed since the last WINDOW_UPDATE for the stream. */
  recvUnacked = 0;
  /** What the client may still send on the stream: our SETTINGS window plus grants, minus DATA. */
  recvWindow = STREAM_WINDOW;
  /** DATA bytes received but not granted back yet, until the answers waiting drop below LOCAL_BACKLOG. */
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

  constructor(
    private readonly conn: H2Connection,
    readonly id: number,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  reply(message: Uint8Array): void {
    this.conn.reply(this, message);
  }

  fail(code: number, details: string): void {
    this.conn.failCall(this, code, details);
  }

  send(framed: Buffer, done?: () => void): void {
    this.conn.send(this, framed, done);
  }
}

/** Frames to write, gathered in slabs (small pieces) and chunks (large payloads, not copied). */
class FrameWriter {
  private slab = Buffer.allocUnsafe(SLAB);
  private start = 0;
  private pos = 0;
  private chunks: Buffer[] = [];

  get empty(): boolean {
    return this.chunks.length === 0 && this.pos === this.start;
  }

  frame(type: number, flags: number, id: number, payload: Uint8Array): void {
    this.head(payload.length, type, flags, id);
    this.bytes(payload);
  }

  head(len: number, type: number, flags: number, id: number): void {
    this.reserve(HEADER_LEN);
    const b = this.slab;
    let p = this.pos;
    b[p++] = len >>> 16;
    b[p++] = (len >>> 8) & 0xff;
    b[p++] = len & 0xff;
    b[p++] = type;
    b[p++] = flags;
    b.writeUInt32BE(id, p);
    this.pos = p + 4;
  }

  bytes(b: Uint8Array): void {
    if (b.length > COPY_MAX) {
      this.cut();
      this.chunks.push(Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length));
      return;
    }
    this.reserve(b.length);
    this.slab.set(b, this.pos);
    this.pos += b.length;
  }

  /** The 5-byte gRPC message prefix (uncompressed, `len` bytes). */
  grpcPrefix(len: number): void {
    this.reserve(GRPC_PREFIX);
    writeGrpcPrefix(this.slab, this.pos, len);
    this.pos += GRPC_PREFIX;
  }

  take(): Buffer[] {
    this.cut();
    const c = this.chunks;
    this.chunks = [];
    return c;
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    this.cut();
    // Written bytes stay with the socket until sent, so a slab is never reused, only replaced.
    this.slab = Buffer.allocUnsafe(Math.max(SLAB, n));
    this.start = this.pos = 0;
  }

  private cut(): void {
    if (this.pos === this.start) return;
    this.chunks.push(this.slab.subarray(this.start, this.pos));
    this.start = this.pos;
  }
}

export class H2Connection {
  private readonly decoder = new HeaderDecoder();
  private readonly streams = new Map<number, Stream>();
  private readonly blocked = new Set<Stream>();
  private readonly out = new FrameWriter();
  private rest: Buffer | undefined;
  private prefaceSeen = false;
  /** The highest stream taken (GOAWAY names it), and the highest the client opened (taken or refused). */
  private lastId = 0;
  private openedId = 0;
  /** The last streams closed after the client's END_STREAM (more DATA on them is STREAM_CLOSED). */
  private readonly endedIds: number[] = [];
  private peerWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MAX_FRAME;
  private sendWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  /** What the client may still send on the connection (RFC 9113 6.9: more is FLOW_CONTROL_ERROR). */
  private recvWindow = CONN_WINDOW;
  /** A header block still waiting for its CONTINUATION frames. */
  private block: { id: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;
  private flushQueued = false;
  private closed = false;
  /** GOAWAY sent by shutdown(): no new streams; the socket ends when the last stream is done. */
  private draining = false;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly opts: H2FrontOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => socket.resume());
    // SETTINGS: a larger stream window; then a larger connection window.
    const settings = Buffer.alloc(6);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 0);
    settings.writeUInt32BE(STREAM_WINDOW, 2);
    this.out.frame(SETTINGS, 0, 0, settings);
    this.windowUpdate(0, CONN_WINDOW - DEFAULT_WINDOW);
    this.onData(head);
  }

  /**
   * Graceful close: GOAWAY(NO_ERROR) naming the last stream taken, so the client retries later
   * streams elsewhere; streams already running are answered, then the socket ends.
   */
  shutdown(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.goAwayFrame(H2_NO_ERROR);
    this.flush();
    this.endIfDrained();
  }

  /** Answers a local call with one message and OK trailers. */
  reply(s: Stream, message: Uint8Array): void {
    if (s.done || s.ending || this.closed) return;
    const len = GRPC_PREFIX + message.length;
    const out = this.out;
    this.responseHeaders(s);
    if (s.queued === 0 && len <= this.peerMaxFrame && len <= this.sendWindow && len <= s.sendWindow) {
      this.sendWindow -= len;
      s.sendWindow -= len;
      out.head(len, DATA, 0, s.id);
      out.grpcPrefix(message.length);
      out.bytes(message);
      out.frame(HEADERS, END_HEADERS | END_STREAM, s.id, OK_TRAILERS);
      s.ending = true;
      this.finish(s);
    } else {
      this.enqueue(s, frame(message));
      s.tail = OK_TRAILERS;
      s.ending = true;
      this.pump(s);
    }
    this.scheduleFlush();
  }

  /** Ends a local call with grpc-status `code`: trailers only, or trailers after what was sent. */
  failCall(s: Stream, code: number, details: string): void {
    if (s.done || s.ending || this.closed) return;
    const status = statusBlock(code, details);
    s.tail = s.headersSent ? status : Buffer.concat([RESPONSE_HEAD, status]);
    s.ending = true;
    this.pump(s);
  }

  /** One framed message of a local streamed answer. */
  send(s: Stream, framed: Buffer, done?: () => void): void {
    if (s.done || s.ending || this.closed) return;
    this.responseHeaders(s);
    this.enqueue(s, framed);
    if (done !== undefined) (s.dones ??= []).push({ at: s.queuedTotal, done });
    this.pump(s);
  }

  /** A local answer's `:status` and content type, once per stream. */
  private responseHeaders(s: Stream): void {
    if (s.headersSent) return;
    s.headersSent = true;
    this.out.frame(HEADERS, END_HEADERS, s.id, RESPONSE_HEAD);
  }

  private enqueue(s: Stream, b: Buffer): void {
    s.queue.push(b);
    s.queued += b.length;
    s.queuedTotal += b.length;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let buf = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = undefined;
    if (!this.prefaceSeen) {
      if (buf.length < PREFACE.length) {
        if (!PREFACE.subarray(0, buf.length).equals(buf)) return this.goAway(H2_PROTOCOL_ERROR);
        this.rest = buf;
        return;
      }
      if (!PREFACE.equals(buf.subarray(0, PREFACE.length))) return this.goAway(H2_PROTOCOL_ERROR);
      this.prefaceSeen = true;
      buf = buf.subarray(PREFACE.length);
    }
    let pos = 0;
    while (buf.length - pos >= HEADER_LEN) {
      const len = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (len > MAX_FRAME) return this.goAway(H2_FRAME_SIZE_ERROR);
      const end = pos + HEADER_LEN + len;
      if (end > buf.length) break;
      const type = buf[pos + 3]!;
      const flags = buf[pos + 4]!;
      const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      this.frame(type, flags, id, buf.subarray(pos + HEADER_LEN, end));
      if (this.closed) return;
      pos = end;
    }
    if (pos < buf.length) this.rest = buf.subarray(pos);
    this.flush();
  }

  private frame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.block !== undefined && type !== CONTINUATION) return this.goAway(H2_PROTOCOL_ERROR);
    switch (type) {
      case DATA:
        return this.onDataFrame(flags, id, p);
      case HEADERS:
        return this.onHeaders(flags, id, p);
      case CONTINUATION:
        return this.onContinuation(flags, id, p);
      case RST_STREAM: {
        if (p.length !== 4) return this.goAway(H2_FRAME_SIZE_ERROR);
        const s = this.streams.get(id);
        if (s !== undefined) this.drop(s);
        return;
      }
      case SETTINGS:
        return this.onSettings(flags, id, p);
      case PING:
        if (p.length !== 8 || id !== 0) return this.goAway(H2_PROTOCOL_ERROR);
        if ((flags & ACK) === 0) this.out.frame(PING, ACK, 0, p);
        return;
      case WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      case PUSH_PROMISE:
        return this.goAway(H2_PROTOCOL_ERROR);
      default:
        // PRIORITY, GOAWAY (the client closes the socket itself) and unknown types: nothing to do.
        return;
    }
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) return this.goAway(H2_PROTOCOL_ERROR);
    if (flags & ACK) return;
    if (p.length % 6 !== 0) return this.goAway(H2_FRAME_SIZE_ERROR);
    for (let i = 0; i < p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const value = p.readUInt32BE(i + 2);
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.goAway(H2_FLOW_CONTROL_ERROR);
        const delta = value - this.peerWindow;
        this.peerWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        if (value < MAX_FRAME || value > 2 ** 24 - 1) return this.goAway(H2_PROTOCOL_ERROR);
        this.peerMaxFrame = value;
      }
      // The header table size and the rest need nothing: answers never index into the table.
    }
    this.out.frame(SETTINGS, ACK, 0, EMPTY);
    for (const s of [...this.streams.values()]) this.pump(s);
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) return this.goAway(H2_FRAME_SIZE_ERROR);
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) return this.goAway(H2_PROTOCOL_ERROR);
      this.sendWindow += inc;
      if (this.sendWindow > MAX_WINDOW) return this.goAway(H2_FLOW_CONTROL_ERROR);
      for (const s of [...this.blocked]) this.pump(s);
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) return this.reset(s, H2_PROTOCOL_ERROR);
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) return this.reset(s, H2_FLOW_CONTROL_ERROR);
    this.pump(s);
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) return this.goAway(H2_PROTOCOL_ERROR);
    const data = unpad(flags, p);
    if (data === undefined) return this.goAway(H2_PROTOCOL_ERROR);
    this.recvWindow -= p.length;
    if (this.recvWindow < 0) return this.goAway(H2_FLOW_CONTROL_ERROR);
    this.recvUnacked += p.length;
    if (this.recvUnacked >= CONN_WINDOW / 4) {
      this.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      // A stream never opened is a connection error (RFC 9113 5.1); DATA after the client's own
      // END_STREAM is STREAM_CLOSED also once we have answered; other closed streams: dropped.
      if (id > this.openedId) return this.goAway(H2_PROTOCOL_ERROR);
      if (this.endedIds.includes(id)) this.rst(id, H2_STREAM_CLOSED);
      return;
    }
    // The client already ended its side (half-closed remote): STREAM_CLOSED.
    if (s.remoteEnded) return this.reset(s, H2_STREAM_CLOSED);
    s.recvWindow -= p.length;
    if (s.recvWindow < 0) return this.reset(s, H2_FLOW_CONTROL_ERROR);
    const end = (flags & END_STREAM) !== 0;
    if (end) s.remoteEnded = true;
    if (data.length > 0) s.local?.data(data);
    if (end) s.local?.end();
    // A client that sends requests but does not read the answers gets no more window once
    // LOCAL_BACKLOG bytes of answers wait: its requests then wait, not our memory.
    else if (s.queued > LOCAL_BACKLOG || s.held > 0) s.held += p.length;
    else this.grant(s, p.length);
  }

  private onHeaders(flags: number, id: number, p: Buffer): void {
    if (id === 0 || (id & 1) === 0) return this.goAway(H2_PROTOCOL_ERROR);
    let b = unpad(flags, p);
    if (b === undefined) return this.goAway(H2_PROTOCOL_ERROR);
    if (flags & PRIORITY_FLAG) {
      if (b.length < 5) return this.goAway(H2_PROTOCOL_ERROR);
      b = b.subarray(5);
    }
    const endStream = (flags & END_STREAM) !== 0;
    if (flags & END_HEADERS) return this.onHeaderBlock(id, endStream, b);
    this.block = { id, endStream, parts: [b], size: b.length };
  }

  private onContinuation(flags: number, id: number, p: Buffer): void {
    const blk = this.block;
    if (blk === undefined || blk.id !== id) return this.goAway(H2_PROTOCOL_ERROR);
    blk.parts.push(p);
    blk.size += p.length;
    if (blk.size > MAX_HEADER_BLOCK) return this.goAway(H2_PROTOCOL_ERROR);
    if ((flags & END_HEADERS) === 0) return;
    this.block = undefined;
    this.onHeaderBlock(id, blk.endStream, Buffer.concat(blk.parts));
  }

  private onHeaderBlock(id: number, endStream: boolean, block: Buffer): void {
    // Every block is decoded, even one for a stream already gone: the table must stay in step.
    const fields = this.decoder.decode(block);
    if (fields === undefined) return this.goAway(H2_COMPRESSION_ERROR);
    const known = this.streams.get(id);
    if (known !== undefined) {
      // Trailers from the client: they must end the stream; gRPC puts nothing in them.
      if (!endStream || known.remoteEnded) return this.reset(known, H2_PROTOCOL_ERROR);
      known.remoteEnded = true;
      known.local?.end();
      return;
    }
    if (id <= this.openedId) return; // a stream already closed
    this.openedId = id;
    if (this.draining) return this.rst(id, H2_REFUSED_STREAM);
    this.lastId = id;
    const s = new Stream(this, id, this.peerWindow);
    this.streams.set(id, s);
    s.remoteEnded = endStream;
    const head = requestHead(fields);
    if (head === undefined) return this.reset(s, H2_PROTOCOL_ERROR);
    const local = this.opts.route(head, s);
    s.local = local;
    if (endStream) local.end();
  }

  /** Gives `n` consumed bytes of window back to the client once enough have gathered. */
  private grant(s: Stream, n: number): void {
    s.recvUnacked += n;
    if (s.recvUnacked < GRANT_AT || s.remoteEnded || s.done) return;
    this.windowUpdate(s.id, s.recvUnacked);
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
    this.scheduleFlush();
  }

  private windowUpdate(id: number, n: number): void {
    this.out.frame(WINDOW_UPDATE, 0, id, uint32(n));
  }

  /** Sends what the windows allow of `s`'s queue, then its end once decided and everything is out. */
  private pump(s: Stream): void {
    if (s.done) return;
    const sentBefore = s.sentTotal;
    let finished = false;
    while (s.queued > 0) {
      const head = s.queue[0]!;
      const n = Math.min(head.length, this.peerMaxFrame, this.sendWindow, s.sendWindow);
      if (n <= 0) {
        this.blocked.add(s);
        break;
      }
      const piece = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
      s.queued -= n;
      s.sentTotal += n;
      this.sendWindow -= n;
      s.sendWindow -= n;
      const last = s.queued === 0 && s.ending && s.tail === undefined;
      this.out.frame(DATA, last ? END_STREAM : 0, s.id, piece);
      if (last) {
        finished = true;
        break;
      }
    }
    if (s.held > 0 && s.queued <= LOCAL_BACKLOG && !finished) {
      const n = s.held;
      s.held = 0;
      this.grant(s, n);
    }
    if (s.queued === 0 && !finished) {
      this.blocked.delete(s);
      if (s.ending) {
        if (s.tail === undefined) this.out.frame(DATA, END_STREAM, s.id, EMPTY);
        else this.headerFrames(s.id, s.tail, true);
        finished = true;
      }
    }
    if (finished) this.finish(s);
    this.scheduleFlush();
    if (s.dones !== undefined && s.sentTotal > sentBefore) this.written(s);
  }

  /** Runs the `done` callbacks of the messages now fully written (after this frame batch). */
  private written(s: Stream): void {
    const dones = s.dones!;
    let i = 0;
    while (i < dones.length && dones[i]!.at <= s.sentTotal) i++;
    if (i === 0) return;
    const ready = dones.splice(0, i);
    for (const d of ready) d.done();
  }

  /** Writes a header block as HEADERS (+ CONTINUATIONs when larger than a frame). */
  private headerFrames(id: number, block: Buffer, endStream: boolean): void {
    const max = this.peerMaxFrame;
    const es = endStream ? END_STREAM : 0;
    if (block.length <= max) return this.out.frame(HEADERS, END_HEADERS | es, id, block);
    this.out.frame(HEADERS, es, id, block.subarray(0, max));
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.out.frame(CONTINUATION, last ? END_HEADERS : 0, id, block.subarray(at, at + max));
    }
  }

  /** Our END_STREAM is written: the stream is done here; a client still sending is told to stop. */
  private finish(s: Stream): void {
    this.forget(s);
    if (s.remoteEnded) return;
    this.rst(s.id, H2_NO_ERROR);
  }

  /** The client reset the stream (or the connection is gone): its call is cancelled. */
  private drop(s: Stream): void {
    this.forget(s);
    s.local?.cancel();
  }

  /** This end resets the stream. */
  private reset(s: Stream, code: number): void {
    this.rst(s.id, code);
    this.drop(s);
  }

  private forget(s: Stream): void {
    s.done = true;
    this.streams.delete(s.id);
    if (s.remoteEnded) {
      this.endedIds.push(s.id);
      if (this.endedIds.length > ENDED_KEPT) this.endedIds.shift();
    }
    this.blocked.delete(s);
    if (this.draining) this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.streams.size > 0 || this.closed) return;
    process.nextTick(() => {
      this.flush();
      const sock = this.socket;
      sock.end(() => sock.destroy());
      this.onClose();
    });
  }

  private rst(id: number, code: number): void {
    this.out.frame(RST_STREAM, 0, id, uint32(code));
    this.scheduleFlush();
  }

  // ---- output and teardown

  private scheduleFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    process.nextTick(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.out.empty) return;
    const chunks = this.out.take();
    const sock = this.socket;
    if (chunks.length === 1) sock.write(chunks[0]!);
    else {
      sock.cork();
      for (const c of chunks) sock.write(c);
      sock.uncork();
    }
    if (sock.writableLength > MAX_UNWRITTEN) sock.pause();
  }

  /** A connection error: GOAWAY with `code`, then the connection closes. */
  private goAway(code: number): void {
    if (this.closed) return;
    this.goAwayFrame(code);
    this.flush();
    this.socket.end();
    this.onClose();
  }

  private goAwayFrame(code: number): void {
    const p = Buffer.allocUnsafe(8);
    p.writeUInt32BE(this.lastId, 0);
    p.writeUInt32BE(code, 4);
    this.out.frame(GOAWAY, 0, 0, p);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) this.drop(s);
  }
}

/** The 4-byte payload of WINDOW_UPDATE and RST_STREAM. */
function uint32(v: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(v, 0);
  return p;
}

/** A DATA or HEADERS payload without its padding (RFC 9113 6.1); undefined if the padding is bad. */
function unpad(flags: number, p: Buffer): Buffer | undefined {
  if ((flags & PADDED) === 0) return p;
  if (p.length === 0 || p[0]! >= p.length) return undefined;
  return p.subarray(1, p.length - p[0]!);
}

/** The routing facts of a request, or undefined when a pseudo-header routing needs is missing. */
function requestHead(fields: Field[]): RequestHead | undefined {
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

/** grpc-status and (if any) grpc-message, percent-encoded (the gRPC spec's Status-Message). */
function statusBlock(code: number, details: string): Buffer {
  const status = encodeField('grpc-status', String(code));
  return details === '' ? status : Buffer.concat([status, encodeField('grpc-message', encodeURI(details))]);
}
