// The client-to-server byte stream of an HTTP/2 connection on its way to Node's HTTP/2 server, with
// two repairs. (1) Node (nghttp2) resets every stream whose `:authority` holds a character outside
// RFC 3986's authority set, and grpc-go (etcdctl 3.4 `endpoint status --cluster`, or any endpoint
// given as `http://host:port`) sends the whole URL there; etcd accepts it. Each such value is
// replaced by one of the same length with the refused characters turned into '_'. (2) The sniffer
// in listener.ts answers the client preface with an empty SETTINGS frame of its own (grpc-go sends
// no request before it has the server's SETTINGS); the client's ACK of it is dropped here, since
// Node never sent those settings and would take the ACK as a protocol error.
import { HeaderBlockRewriter, type EditValue } from './hpack.ts';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** A SETTINGS frame with no parameters: it changes nothing, and the client must ACK it. */
export const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);

const FRAME_HEADER = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** The smallest SETTINGS_MAX_FRAME_SIZE a peer may have, so always safe to send. */
const MAX_FRAME = 16384;

/** nghttp2's set for `:authority` (RFC 3986 authority characters, without '@'). */
const ALLOWED = new Uint8Array(256);
for (const c of "!$%&'()*+,-.:;=[]_~") ALLOWED[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) ALLOWED[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ALLOWED[c] = ALLOWED[c + 0x20] = 1;
const UNDERSCORE = 0x5f;

/** The same-length `:authority` Node accepts, or undefined when `value` is accepted already. */
export function acceptableAuthority(value: Uint8Array): Buffer | undefined {
  if (value.every((c) => ALLOWED[c])) return undefined;
  return Buffer.from(value.map((c) => (ALLOWED[c] ? c : UNDERSCORE)));
}

const editAuthority: EditValue = (name, value) =>
  name === ':authority' ? acceptableAuthority(value) : undefined;

function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER);
  h.writeUIntBE(length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return h;
}

/**
 * Rewrites the client's bytes (preface included) frame by frame: `push` returns what is complete and
 * keeps a partial frame (or a header block still missing CONTINUATIONs) for the next call. Bytes it
 * cannot parse switch it to passing everything through unchanged (`broken`), for Node to reject.
 */
export class ClientStreamRewriter {
  /** The client has ACKed the sniffer's SETTINGS (and the ACK was dropped). */
  ackDropped = false;
  /** Complete header blocks seen so far. */
  headerBlocks = 0;
  /** Some `:authority` was replaced: this connection must go through the rewriter for good. */
  rewrote = false;
  broken = false;
  private pending: Buffer = Buffer.alloc(0);
  private prefaceLeft = PREFACE.length;
  private readonly hpack = new HeaderBlockRewriter(editAuthority);

  push(chunk: Buffer): Buffer {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.broken) {
      this.pending = Buffer.alloc(0);
      return buf;
    }
    const out: Buffer[] = [];
    let pos = 0;
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, buf.length);
      out.push(buf.subarray(0, n));
      this.prefaceLeft -= n;
      pos = n;
    }
    while (!this.broken) {
      const used = this.frame(buf, pos, out);
      if (used === 0) break;
      pos += used;
    }
    if (this.broken) {
      out.push(buf.subarray(pos));
      pos = buf.length;
    }
    this.pending = buf.subarray(pos);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Bytes received but not yet returned by `push` (an incomplete frame). */
  leftover(): Buffer {
    return this.pending;
  }

  /** Handles the frame at `pos`, appending to `out`; returns the bytes used (0: incomplete). */
  private frame(buf: Buffer, pos: number, out: Buffer[]): number {
    if (buf.length - pos < FRAME_HEADER) return 0;
    const len = buf.readUIntBE(pos, 3);
    const type = buf[pos + 3]!;
    const flags = buf[pos + 4]!;
    const end = pos + FRAME_HEADER + len;
    if (end > buf.length) return 0;
    if (type === SETTINGS && flags & FLAG_ACK && !this.ackDropped) {
      this.ackDropped = true;
      return end - pos;
    }
    if (type === HEADERS) return this.headerBlock(buf, pos, out);
    out.push(buf.subarray(pos, end));
    return end - pos;
  }

  /** A HEADERS frame and its CONTINUATIONs, once all have arrived. */
  private headerBlock(buf: Buffer, pos: number, out: Buffer[]): number {
    const len = buf.readUIntBE(pos, 3);
    const flags = buf[pos + 4]!;
    const stream = buf.readUInt32BE(pos + 5) & 0x7fffffff;
    let p = pos + FRAME_HEADER;
    let fragEnd = p + len;
    if (flags & FLAG_PADDED) {
      fragEnd -= buf[p]!;
      p += 1;
    }
    const priority = flags & FLAG_PRIORITY ? buf.subarray(p, p + 5) : Buffer.alloc(0);
    p += priority.length;
    if (p > fragEnd) return this.fail();
    const fragments = [buf.subarray(p, fragEnd)];
    let end = pos + FRAME_HEADER + len;
    let last = flags;
    while (!(last & FLAG_END_HEADERS)) {
      if (buf.length - end < FRAME_HEADER) return 0;
      const clen = buf.readUIntBE(end, 3);
      if (buf[end + 3] !== CONTINUATION || (buf.readUInt32BE(end + 5) & 0x7fffffff) !== stream) {
        return this.fail();
      }
      if (end + FRAME_HEADER + clen > buf.length) return 0;
      last = buf[end + 4]!;
      fragments.push(buf.subarray(end + FRAME_HEADER, end + FRAME_HEADER + clen));
      end += FRAME_HEADER + clen;
    }
    const r = this.hpack.rewrite(fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments));
    if (!r) return this.fail();
    this.headerBlocks++;
    if (!r.edited) {
      out.push(buf.subarray(pos, end));
      return end - pos;
    }
    this.rewrote = true;
    // One HEADERS frame (padding dropped), split into CONTINUATIONs if it outgrew a frame.
    const payload = Buffer.concat([priority, r.block]);
    const keep = flags & (FLAG_END_STREAM | FLAG_PRIORITY);
    let off = 0;
    do {
      const piece = payload.subarray(off, off + MAX_FRAME);
      const type = off === 0 ? HEADERS : CONTINUATION;
      const own = (off === 0 ? keep : 0) | (off + piece.length === payload.length ? FLAG_END_HEADERS : 0);
      out.push(frameHeader(piece.length, type, own, stream), piece);
      off += piece.length;
    } while (off < payload.length);
    return end - pos;
  }

  private fail(): number {
    this.broken = true;
    return 0;
  }
}
