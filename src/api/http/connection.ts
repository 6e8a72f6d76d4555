// One client connection of the HTTP/2 front: reads frames, keeps the streams, answers SETTINGS and
// PING, sends GOAWAY. Answers and windows are flow_control.ts's; each stream is handed to the route
// function as it opens.
import type { Socket } from 'node:net';
import { HeaderDecoder } from './hpack.ts';
import {
  ACK,
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  FrameWriter,
  GOAWAY,
  H2_COMPRESSION_ERROR,
  H2_FLOW_CONTROL_ERROR,
  H2_FRAME_SIZE_ERROR,
  H2_NO_ERROR,
  H2_PROTOCOL_ERROR,
  H2_REFUSED_STREAM,
  H2_STREAM_CLOSED,
  HEADERS,
  HEADER_LEN,
  MAX_FRAME,
  PING,
  PREFACE,
  PRIORITY_FLAG,
  PUSH_PROMISE,
  RST_STREAM,
  SETTINGS,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_FRAME_SIZE,
  WINDOW_UPDATE,
  goAwayPayload,
  settingsPayload,
  uint32,
  unpad,
} from './frames.ts';
import { FlowControl } from './flow_control.ts';
import {
  CONN_WINDOW,
  DEFAULT_WINDOW,
  ENDED_KEPT,
  MAX_HEADER_BLOCK,
  MAX_UNWRITTEN,
  MAX_WINDOW,
  STREAM_WINDOW,
} from './limits.ts';
import { Stream, requestHead, type LocalCall, type RequestHead, type StreamSink } from './stream.ts';

export interface H2FrontOptions {
  /** The call that serves this request; it may answer at once through `sink`. */
  route(head: RequestHead, sink: StreamSink): LocalCall;
}

const EMPTY = Buffer.alloc(0);

export class H2Connection {
  private readonly decoder = new HeaderDecoder();
  private readonly streams = new Map<number, Stream>();
  private readonly out = new FrameWriter();
  private readonly flow: FlowControl;
  private rest: Buffer | undefined;
  private prefaceSeen = false;
  /** The highest stream taken (GOAWAY names it), and the highest the client opened (taken or refused). */
  private lastId = 0;
  private openedId = 0;
  /** The last streams closed after the client's END_STREAM (more DATA on them is STREAM_CLOSED). */
  private readonly endedIds: number[] = [];
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
    this.flow = new FlowControl(this.out, {
      finish: (s) => this.finish(s),
      scheduleFlush: () => this.scheduleFlush(),
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => socket.destroy());
    socket.on('drain', () => socket.resume());
    // SETTINGS: a larger stream window; then a larger connection window.
    this.out.frame(SETTINGS, 0, 0, settingsPayload([[SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW]]));
    this.flow.windowUpdate(0, CONN_WINDOW - DEFAULT_WINDOW);
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
    const flow = this.flow;
    for (let i = 0; i < p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const value = p.readUInt32BE(i + 2);
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.goAway(H2_FLOW_CONTROL_ERROR);
        flow.peerWindow = value;
      } else if (key === SETTINGS_MAX_FRAME_SIZE) {
        if (value < MAX_FRAME || value > 2 ** 24 - 1) return this.goAway(H2_PROTOCOL_ERROR);
        flow.peerMaxFrame = value;
      }
      // The header table size and the rest need nothing: answers never index into the table.
    }
    this.out.frame(SETTINGS, ACK, 0, EMPTY);
    for (const s of [...this.streams.values()]) flow.pump(s);
  }

  private onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) return this.goAway(H2_FRAME_SIZE_ERROR);
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    const flow = this.flow;
    if (id === 0) {
      if (inc === 0) return this.goAway(H2_PROTOCOL_ERROR);
      flow.sendWindow += inc;
      if (flow.sendWindow > MAX_WINDOW) return this.goAway(H2_FLOW_CONTROL_ERROR);
      for (const s of [...flow.blocked]) flow.pump(s);
      return;
    }
    const s = this.streams.get(id);
    if (s === undefined) return;
    if (inc === 0) return this.reset(s, H2_PROTOCOL_ERROR);
    s.sendDelta += inc;
    if (flow.streamWindow(s) > MAX_WINDOW) return this.reset(s, H2_FLOW_CONTROL_ERROR);
    flow.pump(s);
  }

  private onDataFrame(flags: number, id: number, p: Buffer): void {
    if (id === 0) return this.goAway(H2_PROTOCOL_ERROR);
    const data = unpad(flags, p);
    if (data === undefined) return this.goAway(H2_PROTOCOL_ERROR);
    if (!this.flow.received(p.length)) return this.goAway(H2_FLOW_CONTROL_ERROR);
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
    else this.flow.consumed(s, p.length);
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
    const s = new Stream(this.flow, id);
    this.streams.set(id, s);
    s.remoteEnded = endStream;
    const head = requestHead(fields);
    if (head === undefined) return this.reset(s, H2_PROTOCOL_ERROR);
    const local = this.opts.route(head, s);
    s.local = local;
    if (endStream) local.end();
  }

  // ---- the end of streams

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
    this.flow.blocked.delete(s);
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
    this.out.frame(GOAWAY, 0, 0, goAwayPayload(this.lastId, code));
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams.values()]) this.drop(s);
  }
}
