// Header blocks as they arrive: a HEADERS frame, then CONTINUATION frames until END_HEADERS (RFC 9113
// 4.3, 6.10). A block is bounded in bytes with every frame's header counted, so a chain of empty
// CONTINUATIONs is bounded too; empty fragments spend the connection's budget of frames that do
// nothing. Decoding is the connection's (hpack.ts), once the block is whole.
import {
  END_HEADERS,
  END_STREAM,
  H2_ENHANCE_YOUR_CALM,
  H2_PROTOCOL_ERROR,
  HEADER_LEN,
  PRIORITY_FLAG,
  unpad,
} from './frames.ts';
import { HEADER_BLOCK_FACTOR, type RateLimit } from './limits.ts';

/** A whole header block and what its HEADERS frame said. */
export interface HeaderBlock {
  id: number;
  endStream: boolean;
  block: Buffer;
  /** The HEADERS frame made the stream depend on itself (a stream error, RFC 9113 5.3.1). */
  selfDependent: boolean;
}

interface Pending {
  id: number;
  endStream: boolean;
  selfDependent: boolean;
  parts: Buffer[];
  /** Bytes so far, each frame's 9-byte header included. */
  size: number;
}

/**
 * The header block being received on one connection. Each method returns the whole block once its
 * last frame is in, undefined while more is to come, or a connection error code.
 */
export class HeaderBlocks {
  private cur: Pending | undefined;
  private readonly max: number;

  constructor(
    maxHeaderListSize: number,
    private readonly empties: RateLimit,
  ) {
    this.max = HEADER_BLOCK_FACTOR * maxHeaderListSize;
  }

  /** A block is open: only its CONTINUATION frames may come next. */
  get pending(): boolean {
    return this.cur !== undefined;
  }

  headers(flags: number, id: number, p: Buffer): HeaderBlock | number | undefined {
    let b = unpad(flags, p);
    if (b === undefined) return H2_PROTOCOL_ERROR;
    let selfDependent = false;
    if (flags & PRIORITY_FLAG) {
      if (b.length < 5) return H2_PROTOCOL_ERROR;
      selfDependent = (b.readUInt32BE(0) & 0x7fffffff) === id;
      b = b.subarray(5);
    }
    const endStream = (flags & END_STREAM) !== 0;
    if (flags & END_HEADERS) return { id, endStream, block: b, selfDependent };
    if (b.length === 0 && !this.empties.take()) return H2_ENHANCE_YOUR_CALM;
    const size = HEADER_LEN + b.length;
    if (size > this.max) return H2_ENHANCE_YOUR_CALM;
    this.cur = { id, endStream, selfDependent, parts: b.length > 0 ? [b] : [], size };
    return undefined;
  }

  continuation(flags: number, id: number, p: Buffer): HeaderBlock | number | undefined {
    const cur = this.cur;
    if (cur === undefined || cur.id !== id) return H2_PROTOCOL_ERROR;
    const last = (flags & END_HEADERS) !== 0;
    if (p.length === 0 && !last && !this.empties.take()) return H2_ENHANCE_YOUR_CALM;
    cur.size += HEADER_LEN + p.length;
    if (cur.size > this.max) return H2_ENHANCE_YOUR_CALM;
    if (p.length > 0) cur.parts.push(p);
    if (!last) return undefined;
    this.cur = undefined;
    const block = cur.parts.length === 1 ? cur.parts[0]! : Buffer.concat(cur.parts);
    return { id, endStream: cur.endStream, block, selfDependent: cur.selfDependent };
  }
}
