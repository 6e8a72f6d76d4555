// One client connection of the HTTP/2 front: reads frames, keeps the streams, answers SETTINGS and
// PING, sends and honours GOAWAY, and enforces every per-connection limit (limits.ts). Answers and
// windows are flow_control.ts's; header blocks are assembled by header_block.ts; the clocks are
// keepalive.ts's. Each stream is handed to the route function as it opens.
import type { Socket } from 'node:net';
import { HeaderDecoder, type Field } from './hpack.ts';
import { Transport } from './transport.ts';
import {
  ACK,
  CONTINUATION,
  DATA,
  END_STREAM,
  GOAWAY,
  H2_COMPRESSION_ERROR,
  H2_ENHANCE_YOUR_CALM,
  H2_FLOW_CONTROL_ERROR,
  H2_FRAME_SIZE_ERROR,
  H2_NO_ERROR,
  H2_PROTOCOL_ERROR,
  H2_REFUSED_STREAM,
  H2_STREAM_CLOSED,
  HEADERS,
  MAX_FRAME,
  PING,
  PRIORITY,
  PUSH_PROMISE,
  RST_STREAM,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  WINDOW_UPDATE,
  goAwayPayload,
  settingsPayload,
  uint32,
  unpad,
} from './frames.ts';
import { FlowControl } from './flow_control.ts';
import { HeaderBlocks, type HeaderBlock } from './header_block.ts';
import { Keepalive } from './keepalive.ts';
import {
  CONN_WINDOW,
  DEFAULT_WINDOW,
  EMPTY_FRAMES,
  MAX_STREAMS_PER_TURN,
  MAX_WINDOW,
  RESETS,
  RateLimit,
  SETTINGS_FRAMES,
  STREAM_COST,
  STREAM_WINDOW,
  type H2Limits,
} from './limits.ts';
import {
  CLIENT_ENDED,
  CLIENT_RESET,
  ClosedStreams,
  Stream,
  requestHead,
  validTrailers,
  type ConnInfo,
  type LocalCall,
  type RequestHead,
  type StreamSink,
} from './stream.ts';

export type Route = (head: RequestHead, sink: StreamSink) => LocalCall;

/** The payload of our keepalive PING. */
const KEEPALIVE_PING = Buffer.from('tetcd-ka');
const EMPTY = Buffer.alloc(0);

export class H2Connection {
  private readonly decoder: HeaderDecoder;
  private readonly streams = new Map<number, Stream>();
  private readonly io: Transport;
  private readonly flow: FlowControl;
  private readonly blocks: HeaderBlocks;
  private readonly ka: Keepalive;
  private readonly closedStreams = new ClosedStreams();
  /** The client's first SETTINGS is in. */
  greeted = false;
  /** The highest stream taken (GOAWAY names it), and the highest the client opened (taken or refused). */
  private lastId = 0;
  private openedId = 0;
  /** Streams taken so far, and taken or refused in the current turn of the event loop. */
  streamsOpened = 0;
  private openedThisTurn = 0;
  /** Bytes charged for open streams: STREAM_COST plus each one's header list. */
  private streamBytes = 0;
  private readonly emptyFrames = new RateLimit(EMPTY_FRAMES);
  private readonly settingsFrames = new RateLimit(SETTINGS_FRAMES);
  private readonly resets = new RateLimit(RESETS);
  private closed = false;
  /** GOAWAY sent by shutdown() or received from the client: no new streams; the socket ends when the last one is done. */
  private draining = false;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    private readonly route: Route,
    private readonly limits: H2Limits,
    /** The connection is over for its client (its socket may linger a while): it no longer counts. */
    private readonly ended: () => void = () => {},
    private readonly info?: ConnInfo,
  ) {
    this.decoder = new HeaderDecoder();
    this.blocks = new HeaderBlocks(limits.maxHeaderListSize, this.emptyFrames);
    const io = (this.io = new Transport(socket, this, () => this.flow.drained()));
    this.flow = new FlowControl(io.out, {
      finish: (s) => this.finish(s),
      scheduleFlush: () => io.scheduleFlush(),
      unwritten: () => io.unwritten,
      overBudget: () => this.overBudget(),
    });
    this.ka = new Keepalive(limits, this, io);
    socket.on('close', () => this.onClose());
    socket.on('error', () => socket.destroy());
    io.out.frame(
      SETTINGS,
      0,
      0,
      settingsPayload([
        [SETTINGS_MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams],
        [SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
        [SETTINGS_MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize],
      ]),
    );
    this.flow.windowUpdate(0, CONN_WINDOW - DEFAULT_WINDOW);
    io.read(head);
  }

  /**
   * Graceful close: GOAWAY(NO_ERROR) naming the last stream taken, so the client retries later
   * streams elsewhere; streams already running are answered, then the socket ends.
   */
  shutdown(): void {
    if (this.closed || this.draining) return;
    this.draining = true;
    this.goAwayFrame(H2_NO_ERROR);
    this.io.flush();
    this.endIfDrained();
  }

  // ---- what the keepalive clocks see and do (keepalive.ts)

  get activeStreams(): number {
    return this.streams.size;
  }

  ping(): void {
    if (this.closed) return;
    this.io.out.frame(PING, 0, 0, KEEPALIVE_PING);
    this.io.flush();
  }

  abort(): void {
    this.io.destroy();
    this.onClose();
  }

  idle(): void {
    this.shutdown();
  }

  // ---- reading (the frames come from transport.ts)

  /** A new turn of reading: its budget of new streams starts over. */
  newTurn(): void {
    this.openedThisTurn = 0;
  }

  /** Enough new calls from this client for one turn: the rest waits, other clients go first. */
  get turnFull(): boolean {
    return this.openedThisTurn >= MAX_STREAMS_PER_TURN;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A bad preface or a frame larger than we allow: a connection error. */
  readError(code: number): void {
    this.goAway(code);
  }

  frame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.blocks.pending && type !== CONTINUATION) return this.goAway(H2_PROTOCOL_ERROR);
    // The preface must be followed by SETTINGS (RFC 9113 3.4).
    if (!this.greeted && type !== SETTINGS) return this.goAway(H2_PROTOCOL_ERROR);
    switch (type) {
      case DATA:
        return this.onDataFrame(flags, id, p);
      case HEADERS:
        if (id === 0 || (id & 1) === 0) return this.goAway(H2_PROTOCOL_ERROR);
        return this.onBlock(this.blocks.headers(flags, id, p));
      case CONTINUATION:
        return this.onBlock(this.blocks.continuation(flags, id, p));
      case RST_STREAM:
        return this.onRstStream(id, p);
      case SETTINGS:
        return this.onSettings(flags, id, p);
      case PING:
        return this.onPing(flags, id, p);
      case WINDOW_UPDATE:
        return this.onWindowUpdate(id, p);
      case GOAWAY:
        return this.onGoAway(id, p);
      case PRIORITY:
        return this.onPriority(id, p);
      case PUSH_PROMISE:
        return this.goAway(H2_PROTOCOL_ERROR);
      default:
        // Unknown types are ignored (RFC 9113 5.5).
        return;
    }
  }

  private onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) return this.goAway(H2_PROTOCOL_ERROR);
    if (flags & ACK) {
      if (p.length !== 0) return this.goAway(H2_FRAME_SIZE_ERROR);
      return;
    }
    if (p.length % 6 !== 0) return this.goAway(H2_FRAME_SIZE_ERROR);
    if (!this.settingsFrames.take()) return this.calm('too many SETTINGS frames');
    const flow = this.flow;
    for (let i = 0; i < p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const value = p.readUInt32BE(i + 2);
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        // O(1) whatever the number of streams: only streams blocked on their own window are pumped.
        if (value > MAX_WINDOW || !flow.setInitialWindow(value)) return this.goAway(H2_FLOW_CONTROL_ERROR);
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        if (value < MAX_FRAME || value > 2 ** 24 - 1) return this.goAway(H2_PROTOCOL_ERROR);
        flow.peerMaxFrame = value;
      } else if (key === SETTINGS_ENABLE_PUSH) {
        if (value > 1) return this.goAway(H2_PROTOCOL_ERROR);
      }
      // The header table size and the rest need nothing: answers never index into the table.
    }
    this.control(SETTINGS, ACK, 0, EMPTY);
    if (!this.greeted) {
      this.greeted = true;
      this.ka.greeted();
    }
  }

  private onPing(flags: number, id: number, p: Buffer): void {
    if (id !== 0) return this.goAway(H2_PROTOCOL_ERROR);
    if (p.length !== 8) return this.goAway(H2_FRAME_SIZE_ERROR);
    if (flags & ACK) return; // our keepalive's answer: any read counts as life
    this.control(PING, ACK, 0, p);
    const answered = this.flow.answered;
    this.flow.answered = false;
    if (!this.ka.onPing(answered)) this.calm('too_many_pings');
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) return this.goAway(H2_FRAME_SIZE_ERROR);
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) return this.goAway(H2_PROTOCOL_ERROR);
      if (!this.flow.connWindowUpdate(inc)) return this.goAway(H2_FLOW_CONTROL_ERROR);
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) {
      if (id > this.openedId) return this.goAway(H2_PROTOCOL_ERROR); // an idle stream
      return;
    }
    if (inc === 0) return this.reset(s, H2_PROTOCOL_ERROR);
    if (!this.flow.streamWindowUpdate(s, inc)) return this.reset(s, H2_FLOW_CONTROL_ERROR);
  }

  private onRstStream(id: number, p: Buffer): void {
    if (p.length !== 4) return this.goAway(H2_FRAME_SIZE_ERROR);
    if (id === 0 || id > this.openedId) return this.goAway(H2_PROTOCOL_ERROR);
    const s = this.streams.get(id);
    if (s === undefined) return;
    // A call started, then thrown away: rapid reset is a flood.
    if (!this.resets.take()) return this.calm('too many stream resets');
    this.forget(s, true);
    s.local?.cancel();
  }

  /**
   * The client is going away: with NO_ERROR, the streams it has open are answered and no new one is
   * taken; with an error, the connection closes now.
   */
  private onGoAway(id: number, p: Buffer): void {
    if (id !== 0) return this.goAway(H2_PROTOCOL_ERROR);
    if (p.length < 8) return this.goAway(H2_FRAME_SIZE_ERROR);
    if (p.readUInt32BE(4) !== H2_NO_ERROR) {
      this.io.endAfterError();
      return this.onClose();
    }
    this.draining = true;
    this.endIfDrained();
  }

  private onPriority(id: number, p: Buffer): void {
    if (id === 0) return this.goAway(H2_PROTOCOL_ERROR);
    if (p.length !== 5) return this.rst(id, H2_FRAME_SIZE_ERROR);
    // A stream cannot depend on itself (RFC 9113 5.3.1); priorities are otherwise not used.
    if ((p.readUInt32BE(0) & 0x7fffffff) === id) this.rst(id, H2_PROTOCOL_ERROR);
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) return this.goAway(H2_PROTOCOL_ERROR);
    const data = unpad(flags, p);
    if (data === undefined) return this.goAway(H2_PROTOCOL_ERROR);
    if (!this.flow.received(p.length)) return this.goAway(H2_FLOW_CONTROL_ERROR);
    const end = (flags & END_STREAM) !== 0;
    if (data.length === 0 && !end && !this.emptyFrames.take()) return this.calm('too many empty frames');
    const s = this.streams.get(id);
    if (s === undefined) return this.onClosedData(id, p.length);
    // The client already ended its side (half-closed remote): STREAM_CLOSED.
    if (s.remoteEnded) return this.reset(s, H2_STREAM_CLOSED);
    s.recvWindow -= p.length;
    if (s.recvWindow < 0) return this.reset(s, H2_FLOW_CONTROL_ERROR);
    if (s.contentLength >= 0) {
      // DATA must add up to the content-length (RFC 9113 8.1.1): checked before the call sees it.
      s.dataLength += data.length;
      if (s.dataLength > s.contentLength || (end && s.dataLength < s.contentLength)) {
        return this.reset(s, H2_PROTOCOL_ERROR);
      }
    }
    if (end) s.remoteEnded = true;
    const more = data.length > 0 ? s.local?.data(data) : undefined;
    if (end) s.local?.end();
    else if (more !== false) this.flow.consumed(s, p.length);
  }

  /**
   * DATA for a stream that is not open. Never opened: a connection error (RFC 9113 5.1). After the
   * client's END_STREAM or RST_STREAM: STREAM_CLOSED. Closed by us while the client was sending: it
   * may still send what its window allowed, and no more (else it ignores flow control; endless DATA
   * after a call's answer was one of the attacks). Forgotten: a frame that does nothing.
   */
  private onClosedData(id: number, n: number): void {
    if (id > this.openedId) return this.goAway(H2_PROTOCOL_ERROR);
    const left = this.closedStreams.get(id);
    if (left === undefined) {
      if (!this.emptyFrames.take()) this.calm('too many frames on closed streams');
      return;
    }
    if (left < 0) return this.rst(id, H2_STREAM_CLOSED);
    if (!this.closedStreams.spend(id, n)) return this.goAway(H2_FLOW_CONTROL_ERROR);
  }

  /** A header block whose last frame came (HEADERS or CONTINUATION), or a block limit broken. */
  private onBlock(b: HeaderBlock | number | undefined): void {
    if (b === undefined) return;
    if (typeof b === 'number')
      return b === H2_ENHANCE_YOUR_CALM ? this.calm('header block flood') : this.goAway(b);
    // Every block is decoded, even one for a stream already gone: the table must stay in step.
    const fields = this.decoder.decode(b.block, this.limits.maxHeaderListSize);
    if (fields === undefined) return this.goAway(H2_COMPRESSION_ERROR);
    const { id, endStream } = b;
    const known = this.streams.get(id);
    if (known !== undefined) return this.onTrailers(known, endStream, fields);
    if (id <= this.openedId) {
      // Trailers for a stream we closed early are ignored. After the client's end: STREAM_CLOSED, a
      // connection error, or a stream error after its reset (RFC 9113 5.1). A stream id lower than
      // one already used, never open: PROTOCOL_ERROR (RFC 9113 5.1.1).
      const left = this.closedStreams.get(id);
      if (left === undefined) return this.goAway(H2_PROTOCOL_ERROR);
      if (left === CLIENT_ENDED) return this.goAway(H2_STREAM_CLOSED);
      if (left === CLIENT_RESET) this.rst(id, H2_STREAM_CLOSED);
      return;
    }
    this.openedId = id;
    // Past the header list limit: refused as grpc-go 1.33 does (FRAME_SIZE_ERROR); the connection lives.
    if (this.decoder.truncated) return this.refuse(id, endStream, H2_FRAME_SIZE_ERROR);
    // Malformed (RFC 9113 8.1.1): a stream error.
    if (b.selfDependent || this.decoder.invalid) return this.refuse(id, endStream, H2_PROTOCOL_ERROR);
    if (this.draining || this.streams.size >= this.limits.maxConcurrentStreams || this.overBudget() > 0) {
      return this.refuse(id, endStream, H2_REFUSED_STREAM);
    }
    const head = requestHead(fields, this.info);
    if (head === undefined || (endStream && (head.contentLength ?? 0) > 0)) {
      return this.refuse(id, endStream, H2_PROTOCOL_ERROR);
    }
    this.lastId = id;
    const s = new Stream(this.flow, id);
    s.remoteEnded = endStream;
    s.contentLength = head.contentLength ?? -1;
    s.cost = STREAM_COST + this.decoder.listSize;
    this.streamBytes += s.cost;
    this.streams.set(id, s);
    this.streamsOpened++;
    this.openedThisTurn++;
    const local = this.route(head, s);
    s.local = local;
    if (endStream) local.end();
  }

  /**
   * A header block on an open stream: trailers, which must end the stream and hold no
   * pseudo-header (gRPC clients send none). After the client's end it is STREAM_CLOSED.
   */
  private onTrailers(s: Stream, endStream: boolean, fields: Field[]): void {
    if (s.remoteEnded) return this.reset(s, H2_STREAM_CLOSED);
    if (!endStream || this.decoder.invalid || !validTrailers(fields)) return this.reset(s, H2_PROTOCOL_ERROR);
    if (s.contentLength >= 0 && s.dataLength !== s.contentLength) return this.reset(s, H2_PROTOCOL_ERROR);
    s.remoteEnded = true;
    s.local?.end();
  }

  /** A stream not taken: reset with `code`; DATA the client already sent on it is dropped. */
  private refuse(id: number, endStream: boolean, code: number): void {
    this.openedThisTurn++;
    this.closedStreams.add(id, endStream ? CLIENT_ENDED : STREAM_WINDOW);
    this.rst(id, code);
  }

  // ---- the end of streams

  /** Our END_STREAM is written: the stream is done here; a client still sending is told to stop. */
  private finish(s: Stream): void {
    this.forget(s, false);
    if (s.remoteEnded) return;
    this.rst(s.id, H2_NO_ERROR);
  }

  /** This end resets the stream; its call is cancelled. */
  private reset(s: Stream, code: number): void {
    this.rst(s.id, code);
    this.forget(s, false);
    s.local?.cancel();
  }

  /** `s` is closed: `byClient` when the client reset it. */
  private forget(s: Stream, byClient: boolean): void {
    s.done = true;
    this.streams.delete(s.id);
    this.streamBytes -= s.cost;
    this.flow.forget(s, this.streams.size);
    const left = byClient ? CLIENT_RESET : s.remoteEnded ? CLIENT_ENDED : Math.max(0, s.recvWindow);
    this.closedStreams.add(s.id, left);
    if (this.draining) this.endIfDrained();
  }

  private endIfDrained(): void {
    if (this.streams.size > 0 || this.closed) return;
    process.nextTick(() => {
      this.io.end();
      this.onClose();
    });
  }

  private rst(id: number, code: number): void {
    this.control(RST_STREAM, 0, id, uint32(code));
    this.io.scheduleFlush();
  }

  // ---- limits

  /** The bytes this connection makes us hold, when over its budget; else 0. */
  private overBudget(): number {
    const held = this.streamBytes + this.flow.queued + this.io.held;
    return held > this.limits.maxConnectionBytes ? held : 0;
  }

  /**
   * A frame we owe the client (an ACK, a RST_STREAM): while the socket has not taken what it was
   * given, at most MAX_QUEUED_CONTROL of them pile up before the connection is ended.
   */
  private control(type: number, flags: number, id: number, p: Buffer): void {
    if (!this.io.control(type, flags, id, p)) this.calm('too many frames waiting for the client to read');
  }

  /** A flood: GOAWAY ENHANCE_YOUR_CALM with `why` as debug data, then the connection closes. */
  private calm(why: string): void {
    this.goAway(H2_ENHANCE_YOUR_CALM, why);
  }

  // ---- teardown

  /** A connection error: GOAWAY with `code` (and `debug` data), then the connection closes. */
  private goAway(code: number, debug = ''): void {
    if (this.closed) return;
    this.goAwayFrame(code, debug);
    this.io.endAfterError();
    this.onClose();
  }

  private goAwayFrame(code: number, debug = ''): void {
    this.io.out.frame(GOAWAY, 0, 0, goAwayPayload(this.lastId, code, debug));
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.io.closed = true;
    this.ka.close();
    this.ended();
    for (const s of [...this.streams.values()]) {
      this.forget(s, true);
      s.local?.cancel();
    }
  }
}
