// HTTP/2 frames (RFC 9113 4 and 6): the numbers of the protocol, the frame layout, and the writer that
// gathers outgoing frames for one socket write.
import { GRPC_PREFIX, writeGrpcPrefix } from './grpc_message.ts';

/** The client connection preface (RFC 9113 3.4); a SETTINGS frame follows it. */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

// Frame types.
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

// Flags.
export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;
export const PADDED = 0x8;
export const PRIORITY_FLAG = 0x20;

// Settings (RFC 9113 6.5.2).
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

// Error codes (RFC 9113 7).
export const H2_NO_ERROR = 0x0;
export const H2_PROTOCOL_ERROR = 0x1;
export const H2_INTERNAL_ERROR = 0x2;
export const H2_FLOW_CONTROL_ERROR = 0x3;
export const H2_SETTINGS_TIMEOUT = 0x4;
export const H2_STREAM_CLOSED = 0x5;
export const H2_FRAME_SIZE_ERROR = 0x6;
export const H2_REFUSED_STREAM = 0x7;
export const H2_CANCEL = 0x8;
export const H2_COMPRESSION_ERROR = 0x9;
export const H2_ENHANCE_YOUR_CALM = 0xb;

/** Bytes of a frame header: 24-bit length, type, flags, 31-bit stream id. */
export const HEADER_LEN = 9;
/** The largest frame accepted: SETTINGS_MAX_FRAME_SIZE is left at its default. */
export const MAX_FRAME = 16_384;

/** Payloads up to this size are copied into the output slab; larger ones are written as they are. */
const COPY_MAX = 4096;
const SLAB = 64 * 1024;

/** Frames to write, gathered in slabs (small pieces) and chunks (large payloads, not copied). */
export class FrameWriter {
  private slab = Buffer.allocUnsafe(SLAB);
  private start = 0;
  private pos = 0;
  private chunks: Buffer[] = [];
  /** Bytes gathered in chunks already cut (the open slab piece is pos - start). */
  private cutBytes = 0;

  get empty(): boolean {
    return this.chunks.length === 0 && this.pos === this.start;
  }

  /** Bytes gathered and not yet taken. */
  get size(): number {
    return this.cutBytes + this.pos - this.start;
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
      this.cutBytes += b.length;
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
    this.cutBytes = 0;
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
    this.cutBytes += this.pos - this.start;
    this.start = this.pos;
  }
}

/** The 4-byte payload of WINDOW_UPDATE and RST_STREAM. */
export function uint32(v: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(v, 0);
  return p;
}

/** A DATA or HEADERS payload without its padding (RFC 9113 6.1); undefined if the padding is bad. */
export function unpad(flags: number, p: Buffer): Buffer | undefined {
  if ((flags & PADDED) === 0) return p;
  if (p.length === 0 || p[0]! >= p.length) return undefined;
  return p.subarray(1, p.length - p[0]!);
}

/** A GOAWAY payload: the last stream processed, the error code, optional debug data. */
export function goAwayPayload(lastId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'latin1');
  const p = Buffer.allocUnsafe(8 + d.length);
  p.writeUInt32BE(lastId, 0);
  p.writeUInt32BE(code, 4);
  d.copy(p, 8);
  return p;
}

/** A SETTINGS payload of (identifier, value) pairs. */
export function settingsPayload(pairs: readonly (readonly [number, number])[]): Buffer {
  const p = Buffer.allocUnsafe(6 * pairs.length);
  pairs.forEach(([k, v], i) => {
    p.writeUInt16BE(k, 6 * i);
    p.writeUInt32BE(v, 6 * i + 2);
  });
  return p;
}
