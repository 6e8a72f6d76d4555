// Flow control of one HTTP/2 connection (RFC 9113 5.2, 6.9) and the answers it paces: what the client
// lets us send (its windows) and what we let it send (ours, granted back as calls consume DATA). Every
// answer goes through here: a unary reply in one go when the windows allow, anything else queued on
// its stream and pumped out as WINDOW_UPDATEs arrive.
import { GRPC_PREFIX, frame } from './grpc_message.ts';
import { encodeField, writeInt, writeString } from './hpack.ts';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  HEADERS,
  MAX_FRAME,
  WINDOW_UPDATE,
  uint32,
  type FrameWriter,
} from './frames.ts';
import {
  CONN_WINDOW,
  DEFAULT_WINDOW,
  GRANT_AT,
  LOCAL_BACKLOG,
  MAX_UNWRITTEN,
  MAX_WINDOW,
  OVER_BUDGET_STATUS,
} from './limits.ts';
import type { Stream, StreamHost } from './stream.ts';

// The answers' fixed header blocks: `:status: 200` (static index 8) and the gRPC content type as a
// literal without indexing (static name 31), then grpc-status 0 as trailers.
const RESPONSE_HEAD = Buffer.concat([
  Buffer.from([0x88]),
  writeInt(31, 4, 0),
  writeString(Buffer.from('application/grpc')),
]);
const OK_TRAILERS = encodeField('grpc-status', '0');
const EMPTY = Buffer.alloc(0);

/** What flow control needs of its connection. */
export interface FlowOwner {
  /** Our END_STREAM for `s` is written: the stream is done. */
  finish(s: Stream): void;
  /** Frames were added to the writer: write them before this turn of the event loop ends. */
  scheduleFlush(): void;
  /** Bytes handed to the socket and not yet sent. */
  unwritten(): number;
  /** The bytes the connection makes us hold, when past its budget (else 0). */
  overBudget(): number;
}

export class FlowControl implements StreamHost {
  /** The client's SETTINGS_INITIAL_WINDOW_SIZE and SETTINGS_MAX_FRAME_SIZE. */
  private peerWindow = DEFAULT_WINDOW;
  peerMaxFrame = MAX_FRAME;
  /** What the client lets us send on the connection. */
  private sendWindow = DEFAULT_WINDOW;
  /**
   * The largest stream window increment beyond the initial size since the connection last had no
   * stream (at least every open stream's): a new initial size must not take a window past 2^31-1.
   */
  private maxDelta = 0;
  /** What the client may still send on the connection (RFC 9113 6.9: more is FLOW_CONTROL_ERROR). */
  private recvWindow = CONN_WINDOW;
  /** DATA bytes received on the connection since its last WINDOW_UPDATE. */
  private recvUnacked = 0;
  /** Answer bytes waiting in the streams' queues. */
  queued = 0;
  /**
   * Streams with answers waiting: for the connection window or the socket (connBlocked), or for
   * their own window (streamBlocked). A window that opens pumps only the streams it can move.
   */
  private readonly connBlocked = new Set<Stream>();
  private readonly streamBlocked = new Set<Stream>();
  /** A HEADERS or DATA frame was written (the keepalive policy clears ping strikes on it). */
  answered = false;

  constructor(
    private readonly out: FrameWriter,
    private readonly owner: FlowOwner,
  ) {}

  /** What `s` may send now by its own window. */
  streamWindow(s: Stream): number {
    return this.peerWindow + s.sendDelta;
  }

  /** Room before the socket counts as congested (MAX_UNWRITTEN). */
  private room(): number {
    return MAX_UNWRITTEN - this.out.size - this.owner.unwritten();
  }

  // ---- the client's windows (what we may send)

  /** A new SETTINGS_INITIAL_WINDOW_SIZE; false if it takes a stream's window past 2^31-1. */
  setInitialWindow(value: number): boolean {
    if (value + this.maxDelta > MAX_WINDOW) return false;
    const grew = value > this.peerWindow;
    this.peerWindow = value;
    if (grew) this.pumpBlocked(this.streamBlocked);
    return true;
  }

  /** A connection WINDOW_UPDATE; false if the window passes 2^31-1. */
  connWindowUpdate(inc: number): boolean {
    this.sendWindow += inc;
    if (this.sendWindow > MAX_WINDOW) return false;
    this.pumpBlocked(this.connBlocked);
    return true;
  }

  /** A stream WINDOW_UPDATE; false if the stream's window passes 2^31-1. */
  streamWindowUpdate(s: Stream, inc: number): boolean {
    s.sendDelta += inc;
    if (this.peerWindow + s.sendDelta > MAX_WINDOW) return false;
    if (s.sendDelta > this.maxDelta) this.maxDelta = s.sendDelta;
    this.pump(s);
    return true;
  }

  /** The socket has written what it held: streams waiting for it go on. */
  drained(): void {
    this.pumpBlocked(this.connBlocked);
  }

  /** Pumps the streams of `set` in order while the connection can send. */
  private pumpBlocked(set: Set<Stream>): void {
    for (const s of set) {
      if (this.sendWindow <= 0 || this.room() <= 0) return;
      this.pump(s);
    }
  }

  /** `s` is gone: nothing of it waits any more. */
  forget(s: Stream, streamsLeft: number): void {
    this.queued -= s.queued;
    this.connBlocked.delete(s);
    this.streamBlocked.delete(s);
    if (streamsLeft === 0) this.maxDelta = 0;
  }

  // ---- our windows (what the client may send)

  /**
   * Counts `n` DATA bytes (padding included) against the connection window; false when the client
   * sent more than it was allowed.
   */
  received(n: number): boolean {
    this.recvWindow -= n;
    if (this.recvWindow < 0) return false;
    this.recvUnacked += n;
    if (this.recvUnacked >= CONN_WINDOW / 4) {
      this.windowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    return true;
  }

  /**
   * `n` bytes of a stream's DATA were consumed by its call: granted back, unless its client has too
   * many answers waiting (then its requests wait, not our memory) — see pump().
   */
  consumed(s: Stream, n: number): void {
    if (s.queued > LOCAL_BACKLOG || s.held > 0) s.held += n;
    else this.grant(s, n);
  }

  /** Gives `n` consumed bytes of window back to the client once enough have gathered. */
  private grant(s: Stream, n: number): void {
    s.recvUnacked += n;
    if (s.recvUnacked < GRANT_AT || s.remoteEnded || s.done) return;
    this.windowUpdate(s.id, s.recvUnacked);
    s.recvWindow += s.recvUnacked;
    s.recvUnacked = 0;
    this.owner.scheduleFlush();
  }

  windowUpdate(id: number, n: number): void {
    this.out.frame(WINDOW_UPDATE, 0, id, uint32(n));
  }

  // ---- answers

  /**
   * Answers a call with one message and OK trailers. While the connection holds more than its
   * budget, the answer is dropped and the call ends UNAVAILABLE instead: a client that does not read
   * cannot pile up answers (reads are retried by etcd's client).
   */
  reply(s: Stream, message: Uint8Array): void {
    if (s.done || s.ending) return;
    const held = this.owner.overBudget();
    if (held > 0) {
      const why = `the client does not read its answers: ${held} bytes wait on its connection`;
      return this.failCall(s, OVER_BUDGET_STATUS, why);
    }
    const len = GRPC_PREFIX + message.length;
    const out = this.out;
    this.responseHeaders(s);
    if (
      s.queued === 0 &&
      len <= this.peerMaxFrame &&
      len <= this.sendWindow &&
      len <= this.peerWindow + s.sendDelta &&
      len <= this.room()
    ) {
      this.sendWindow -= len;
      s.sendDelta -= len;
      out.head(len, DATA, 0, s.id);
      out.grpcPrefix(message.length);
      out.bytes(message);
      out.frame(HEADERS, END_HEADERS | END_STREAM, s.id, OK_TRAILERS);
      s.ending = true;
      this.owner.finish(s);
    } else {
      this.enqueue(s, frame(message));
      s.tail = OK_TRAILERS;
      s.ending = true;
      this.pump(s);
    }
    this.owner.scheduleFlush();
  }

  /** Ends a call with grpc-status `code`: trailers only, or trailers after what was sent. */
  failCall(s: Stream, code: number, details: string): void {
    if (s.done || s.ending) return;
    const status = statusBlock(code, details);
    s.tail = s.headersSent ? status : Buffer.concat([RESPONSE_HEAD, status]);
    s.ending = true;
    this.pump(s);
  }

  /** The bytes the connection holds when over its budget, else 0 (see StreamSink.overBudget). */
  overBudget(): number {
    return this.owner.overBudget();
  }

  /** One framed message of a streamed answer. */
  send(s: Stream, framed: Buffer, done?: () => void): void {
    if (s.done || s.ending) return;
    this.responseHeaders(s);
    this.enqueue(s, framed);
    if (done !== undefined) (s.dones ??= []).push({ at: s.queuedTotal, done });
    this.pump(s);
  }

  /** An answer's `:status` and content type, once per stream. */
  private responseHeaders(s: Stream): void {
    if (s.headersSent) return;
    s.headersSent = true;
    this.answered = true;
    this.out.frame(HEADERS, END_HEADERS, s.id, RESPONSE_HEAD);
  }

  private enqueue(s: Stream, b: Buffer): void {
    s.queue.push(b);
    s.queued += b.length;
    s.queuedTotal += b.length;
    this.queued += b.length;
  }

  /**
   * Sends what the windows and the socket allow of `s`'s queue, then its end once decided and
   * everything is out.
   */
  pump(s: Stream): void {
    if (s.done) return;
    const sentBefore = s.sentTotal;
    let finished = false;
    while (s.queued > 0) {
      const head = s.queue[0]!;
      const win = this.peerWindow + s.sendDelta;
      const n = Math.min(head.length, this.peerMaxFrame, this.sendWindow, win, this.room());
      if (n <= 0) {
        // Waiting for its own window, or for the connection's (or the socket).
        if (win <= 0) {
          this.connBlocked.delete(s);
          this.streamBlocked.add(s);
        } else {
          this.streamBlocked.delete(s);
          this.connBlocked.add(s);
        }
        break;
      }
      const piece = n === head.length ? head : head.subarray(0, n);
      if (n === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(n);
      s.queued -= n;
      this.queued -= n;
      s.sentTotal += n;
      this.sendWindow -= n;
      s.sendDelta -= n;
      const last = s.queued === 0 && s.ending && s.tail === undefined;
      this.out.frame(DATA, last ? END_STREAM : 0, s.id, piece);
      this.answered = true;
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
      this.connBlocked.delete(s);
      this.streamBlocked.delete(s);
      if (s.ending) {
        if (s.tail === undefined) this.out.frame(DATA, END_STREAM, s.id, EMPTY);
        else this.headerFrames(s.id, s.tail, true);
        this.answered = true;
        finished = true;
      }
    }
    if (finished) this.owner.finish(s);
    this.owner.scheduleFlush();
    if (s.dones !== undefined && s.sentTotal > sentBefore) written(s);
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
}

/** Runs the `done` callbacks of the messages now fully written (after this frame batch). */
function written(s: Stream): void {
  const dones = s.dones!;
  let i = 0;
  while (i < dones.length && dones[i]!.at <= s.sentTotal) i++;
  if (i === 0) return;
  const ready = dones.splice(0, i);
  for (const d of ready) d.done();
}

/** grpc-status and (if any) grpc-message, percent-encoded (the gRPC spec's Status-Message). */
function statusBlock(code: number, details: string): Buffer {
  const status = encodeField('grpc-status', String(code));
  return details === '' ? status : Buffer.concat([status, encodeField('grpc-message', encodeURI(details))]);
}
