// HTTP/2 on the wire, as the attack, conformance and fuzz tests speak it: frame and error constants of
// RFC 9113, frame builders, gRPC request header blocks (HPACK literals, RFC 7541), the etcd requests
// the tests send as raw protobuf, and a streaming frame parser.
import { HeaderDecoder, encodeField, writeInt, type Field } from '../../src/api/http/hpack.ts';
import { h2Frame } from './h2.ts';

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

// SETTINGS parameters.
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

// Error codes.
export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const FLOW_CONTROL_ERROR = 0x3;
export const SETTINGS_TIMEOUT = 0x4;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const CANCEL = 0x8;
export const COMPRESSION_ERROR = 0x9;
export const ENHANCE_YOUR_CALM = 0xb;

const CODE_NAMES: Record<number, string> = {
  0: 'NO_ERROR',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  3: 'FLOW_CONTROL_ERROR',
  4: 'SETTINGS_TIMEOUT',
  5: 'STREAM_CLOSED',
  6: 'FRAME_SIZE_ERROR',
  7: 'REFUSED_STREAM',
  8: 'CANCEL',
  9: 'COMPRESSION_ERROR',
  10: 'CONNECT_ERROR',
  11: 'ENHANCE_YOUR_CALM',
  12: 'INADEQUATE_SECURITY',
  13: 'HTTP_1_1_REQUIRED',
};

export function codeName(code: number | undefined): string {
  if (code === undefined) return 'none';
  return CODE_NAMES[code] ?? `0x${code.toString(16)}`;
}

export const TYPE_NAMES = [
  'DATA',
  'HEADERS',
  'PRIORITY',
  'RST_STREAM',
  'SETTINGS',
  'PUSH_PROMISE',
  'PING',
  'GOAWAY',
  'WINDOW_UPDATE',
  'CONTINUATION',
];

export const frame = h2Frame;

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

export function settingsFrame(pairs: readonly (readonly [number, number])[], flags = 0): Buffer {
  const p = Buffer.alloc(6 * pairs.length);
  pairs.forEach(([k, v], i) => {
    p.writeUInt16BE(k, 6 * i);
    p.writeUInt32BE(v >>> 0, 6 * i + 2);
  });
  return frame(SETTINGS, flags, 0, p);
}

export const settingsAck = (): Buffer => frame(SETTINGS, ACK, 0);
export const windowUpdate = (id: number, n: number): Buffer => frame(WINDOW_UPDATE, 0, id, u32(n));
export const rstStream = (id: number, code: number): Buffer => frame(RST_STREAM, 0, id, u32(code));
export const ping = (data: Buffer, flags = 0): Buffer => frame(PING, flags, 0, data);

export function goAwayFrame(lastId: number, code: number, id = 0): Buffer {
  return frame(GOAWAY, 0, id, Buffer.concat([u32(lastId), u32(code)]));
}

/** A PRIORITY frame: stream `id` depends on `dep` (exclusive bit optional) with `weight`. */
export function priorityFrame(id: number, dep: number, weight = 15, exclusive = false): Buffer {
  const p = Buffer.alloc(5);
  p.writeUInt32BE((dep | (exclusive ? 0x80000000 : 0)) >>> 0, 0);
  p[4] = weight;
  return frame(PRIORITY, 0, id, p);
}

// ---- header blocks

export type Header = readonly [string, string];

export const KV_RANGE = '/etcdserverpb.KV/Range';
export const KV_PUT = '/etcdserverpb.KV/Put';

/** The fields of a gRPC POST to `path`, as grpc-go sends them. */
export function grpcRequestFields(path: string, extra: readonly Header[] = []): Header[] {
  return [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', '127.0.0.1'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ...extra,
  ];
}

/** Every field as a literal without indexing, new name, raw strings (RFC 7541 6.2.2). */
export function literalBlock(fields: readonly Header[]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => encodeField(n, v)));
}

/** A literal with incremental indexing, new name (RFC 7541 6.2.1): the field enters the table. */
export function indexedLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x40]), writeInt(n.length, 7, 0), n, writeInt(v.length, 7, 0), v]);
}

/** An indexed field (RFC 7541 6.1). */
export function indexedField(index: number): Buffer {
  return writeInt(index, 7, 0x80);
}

export function requestBlock(path: string, extra: readonly Header[] = []): Buffer {
  return literalBlock(grpcRequestFields(path, extra));
}

/** A header block as HEADERS (+ CONTINUATIONs when larger than `max`). */
export function headerFrames(id: number, block: Buffer, endStream: boolean, max = 16_384): Buffer {
  const es = endStream ? END_STREAM : 0;
  if (block.length <= max) return frame(HEADERS, END_HEADERS | es, id, block);
  const out = [frame(HEADERS, es, id, block.subarray(0, max))];
  for (let at = max; at < block.length; at += max) {
    const last = at + max >= block.length;
    out.push(frame(CONTINUATION, last ? END_HEADERS : 0, id, block.subarray(at, at + max)));
  }
  return Buffer.concat(out);
}

// ---- gRPC messages and the etcd requests sent as raw protobuf

/** One gRPC message: flag byte 0, 4-byte length, payload (length overridable). */
export function grpcMessage(payload: Buffer, declared = payload.length): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(declared, 1);
  return Buffer.concat([h, payload]);
}

function bytesField(tag: number, b: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), writeVarint(b.length), b]);
}

function writeVarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

/** etcdserverpb.RangeRequest { key } */
export function rangeRequest(key: string | Buffer): Buffer {
  return bytesField(0x0a, Buffer.from(key));
}

/** etcdserverpb.PutRequest { key, value } */
export function putRequest(key: string | Buffer, value: string | Buffer): Buffer {
  return Buffer.concat([bytesField(0x0a, Buffer.from(key)), bytesField(0x12, Buffer.from(value))]);
}

/** HEADERS and one DATA frame ending the stream: a whole unary call. */
export function unaryCall(id: number, path: string, message: Buffer, extra: readonly Header[] = []): Buffer {
  return Buffer.concat([
    frame(HEADERS, END_HEADERS, id, requestBlock(path, extra)),
    frame(DATA, END_STREAM, id, grpcMessage(message)),
  ]);
}

// ---- reading frames

export interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
  /** On the frame that completes a header block (when decoding): its fields. */
  fields?: Field[];
}

/**
 * Cuts a byte stream into frames; with `decode`, header blocks are decoded with one HPACK context
 * (the server's answers; a block that fails to decode gets no fields).
 */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  private readonly decoder = new HeaderDecoder();
  private block: { first: Frame; parts: Buffer[] } | undefined;
  /** Bytes received. */
  bytes = 0;

  constructor(
    private readonly onFrame: (f: Frame) => void,
    private readonly decode = true,
  ) {}

  push(d: Buffer): void {
    this.bytes += d.length;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let pos = 0;
    while (this.buf.length - pos >= 9) {
      const len = this.buf.readUIntBE(pos, 3);
      if (this.buf.length - pos < 9 + len) break;
      const f: Frame = {
        type: this.buf[pos + 3]!,
        flags: this.buf[pos + 4]!,
        id: this.buf.readUInt32BE(pos + 5) & 0x7fffffff,
        payload: this.buf.subarray(pos + 9, pos + 9 + len),
      };
      pos += 9 + len;
      if (this.decode) this.headerBlock(f);
      this.onFrame(f);
    }
    this.buf = pos === this.buf.length ? Buffer.alloc(0) : Buffer.from(this.buf.subarray(pos));
  }

  private headerBlock(f: Frame): void {
    if (f.type === HEADERS) {
      let p = f.payload;
      if (f.flags & PADDED) p = p.subarray(1, p.length - (p[0] ?? 0));
      if (f.flags & PRIORITY_FLAG) p = p.subarray(5);
      if (f.flags & END_HEADERS) f.fields = this.decoder.decode(Buffer.from(p)) ?? [];
      else this.block = { first: f, parts: [Buffer.from(p)] };
    } else if (f.type === CONTINUATION && this.block !== undefined) {
      this.block.parts.push(Buffer.from(f.payload));
      if (f.flags & END_HEADERS) {
        const fields = this.decoder.decode(Buffer.concat(this.block.parts)) ?? [];
        this.block.first.fields = fields;
        f.fields = fields;
        this.block = undefined;
      }
    }
  }
}

/** The value of header `name` in `fields`, or undefined. */
export function header(fields: readonly Field[] | undefined, name: string): string | undefined {
  return fields?.find(([n]) => n === name)?.[1];
}
