// The socket side of one HTTP/2 connection: the preface checked and the input cut into frames for
// the connection; frames gathered during a turn of the event loop and written at its end in one go;
// reading paused while the socket's own write buffer is full, and until the next turn when a
// connection has sent more new calls than one turn takes; the frames we owe a client that does not
// read, counted; and the close after a connection error, which lingers so that the GOAWAY reaches
// the client.
import type { Socket } from 'node:net';
import {
  FrameWriter,
  H2_FRAME_SIZE_ERROR,
  H2_PROTOCOL_ERROR,
  HEADER_LEN,
  MAX_FRAME,
  PREFACE,
} from './frames.ts';
import { MAX_QUEUED_CONTROL, MAX_UNWRITTEN, TURN_SLICE_MS } from './limits.ts';
import { counts } from '../../pkg/metrics.ts';

/**
 * The turns of the event loop, counted for every connection at once: the first read of a turn
 * schedules the one setImmediate that ends it.
 */
let turn = 0;
let turnEnding = false;
const endTurn = (): void => {
  turn++;
  turnEnding = false;
};
function currentTurn(): number {
  if (!turnEnding) {
    turnEnding = true;
    setImmediate(endTurn);
  }
  return turn;
}

/** Where the frames read go (connection.ts). */
export interface FrameHandler {
  /** A turn of reading starts. */
  newTurn(): void;
  /** One whole frame; `payload` is a view into the read buffer. */
  frame(type: number, flags: number, id: number, payload: Buffer): void;
  /** The connection has taken all it takes this turn: the rest waits for the next. */
  readonly turnFull: boolean;
  readonly isClosed: boolean;
  /** A bad preface or a frame larger than allowed. */
  readError(code: number): void;
}

/** After a connection error, how long the socket is read and discarded before it is destroyed. */
export const CLOSE_LINGER_MS = 10_000;

export class Transport {
  readonly out = new FrameWriter();
  /** Socket reads so far (the keepalive clocks look for change). */
  reads = 0;
  /** Input not yet cut into frames: a partial frame, or what waits for the next turn. */
  private rest: Buffer | undefined;
  private prefaceSeen = false;
  /** The turn of the event loop this connection last read in, and when it began to. */
  private sliceTurn = -1;
  private sliceStart = 0;
  /** Nothing more is written (the connection is closed). */
  closed = false;
  private flushQueued = false;
  /** Reading paused: input waits for the next turn (deferred), or the write buffer is full. */
  private deferred = false;
  private writeBlocked = false;
  /** Frames owed to the client written while the socket had not taken what it was given. */
  private controlQueued = 0;

  constructor(
    private readonly socket: Socket,
    private readonly handler: FrameHandler,
    /** The socket wrote everything it held: answers waiting for it may go on. */
    private readonly drained: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      counts.clientGrpcReceivedBytes += chunk.length;
      this.read(chunk);
    });
    socket.on('drain', () => this.onDrain());
  }

  // ---- reading

  /** Bytes from the client (the first ones, preface included, come from the listener). */
  read(chunk: Buffer): void {
    this.reads++;
    if (this.handler.isClosed) return;
    const t = currentTurn();
    if (t !== this.sliceTurn) {
      this.sliceTurn = t;
      this.sliceStart = performance.now();
    }
    this.process(this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]));
    // This turn's time is used up: the socket's next reads wait for the next turn.
    if (!this.deferred && !this.handler.isClosed && performance.now() - this.sliceStart > TURN_SLICE_MS) {
      this.yieldTurn();
    }
  }

  /** Stops reading until the next turn of the event loop, then reads what waits first. */
  private yieldTurn(): void {
    this.deferred = true;
    this.updateReading();
    setImmediate(this.resume);
  }

  private process(input: Buffer): void {
    const h = this.handler;
    let buf = input;
    this.rest = undefined;
    if (!this.prefaceSeen) {
      if (buf.length < PREFACE.length) {
        if (!PREFACE.subarray(0, buf.length).equals(buf)) return h.readError(H2_PROTOCOL_ERROR);
        this.rest = buf;
        return;
      }
      if (!PREFACE.equals(buf.subarray(0, PREFACE.length))) return h.readError(H2_PROTOCOL_ERROR);
      this.prefaceSeen = true;
      buf = buf.subarray(PREFACE.length);
    }
    h.newTurn();
    let pos = 0;
    let frames = 0;
    while (buf.length - pos >= HEADER_LEN) {
      const len = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!;
      if (len > MAX_FRAME) return h.readError(H2_FRAME_SIZE_ERROR);
      const end = pos + HEADER_LEN + len;
      if (end > buf.length) break;
      const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
      h.frame(buf[pos + 3]!, buf[pos + 4]!, id, buf.subarray(pos + HEADER_LEN, end));
      if (h.isClosed) return;
      pos = end;
      // Enough for this turn (new streams, or time, looked at every 8 frames): the rest waits.
      const full =
        h.turnFull || ((++frames & 7) === 0 && performance.now() - this.sliceStart > TURN_SLICE_MS);
      if (full && pos < buf.length) {
        this.yieldTurn();
        break;
      }
    }
    if (pos < buf.length) this.rest = buf.subarray(pos);
    this.flush();
  }

  /** The next turn: what waited is read, then the socket again. */
  private readonly resume = (): void => {
    this.deferred = false;
    if (this.handler.isClosed) return;
    this.sliceTurn = currentTurn();
    this.sliceStart = performance.now();
    if (this.rest !== undefined) this.process(this.rest);
    this.updateReading();
  };

  // ---- writing

  /** Bytes written and not yet sent: in the writer and in the socket's buffer. */
  get held(): number {
    return this.out.size + this.socket.writableLength;
  }

  /** Bytes handed to the socket and not yet sent. */
  get unwritten(): number {
    return this.socket.writableLength;
  }

  /**
   * A frame we owe the client (an ACK, a RST_STREAM). False when MAX_QUEUED_CONTROL of them wait
   * behind a socket that has not taken what it was given: a client that sends them and does not
   * read is flooding us.
   */
  control(type: number, flags: number, id: number, p: Uint8Array): boolean {
    this.out.frame(type, flags, id, p);
    return !(this.socket.writableNeedDrain && ++this.controlQueued > MAX_QUEUED_CONTROL);
  }

  scheduleFlush(): void {
    if (this.flushQueued || this.closed) return;
    this.flushQueued = true;
    process.nextTick(this.flushLater);
  }

  private readonly flushLater = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  flush(): void {
    if (this.closed || this.out.empty) return;
    const chunks = this.out.take();
    const sock = this.socket;
    if (chunks.length === 1) {
      counts.clientGrpcSentBytes += chunks[0]!.length;
      sock.write(chunks[0]!);
    } else {
      sock.cork();
      for (const c of chunks) {
        counts.clientGrpcSentBytes += c.length;
        sock.write(c);
      }
      sock.uncork();
    }
    if (sock.writableLength > MAX_UNWRITTEN && !this.writeBlocked) {
      this.writeBlocked = true;
      this.updateReading();
    }
  }

  private updateReading(): void {
    if (this.closed) return;
    if (this.deferred || this.writeBlocked) this.socket.pause();
    else this.socket.resume();
  }

  private onDrain(): void {
    this.controlQueued = 0;
    if (this.writeBlocked) {
      this.writeBlocked = false;
      this.updateReading();
    }
    if (this.closed) return;
    this.drained();
    this.flush();
  }

  /** Writes what is gathered, then ends the socket (graceful: everything was answered). */
  end(): void {
    this.flush();
    this.closed = true;
    const sock = this.socket;
    sock.end(() => sock.destroy());
  }

  /**
   * After a connection error: writes what is gathered (the GOAWAY last), ends the socket, and stops
   * reading. The socket is destroyed CLOSE_LINGER_MS later, not now: closing with unread input resets
   * the connection, and a reset throws away what the client has not read yet, the GOAWAY included.
   * Meanwhile what the client sends stays in the kernel's buffers, costing no work.
   */
  endAfterError(): void {
    this.flush();
    this.closed = true;
    const sock = this.socket;
    sock.end();
    sock.pause();
    setTimeout(() => sock.destroy(), CLOSE_LINGER_MS).unref();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
