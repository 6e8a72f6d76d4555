// Protobuf wire primitives for raftpb_codec.ts: varint sizes, a Writer over a buffer sized beforehand and
// a bounds-checked Reader. Numbers are split into 32-bit halves so no varint goes through BigInt unless it
// is a uint64 ID above 2^53.
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

export const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

const TWO32 = 4294967296;
const MAX_U64 = (1n << 64n) - 1n;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

// ---- sizes ----

/** Varint size of an unsigned integer number in [0, 2^53). */
export function sizeUint(v: number): number {
  if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v))) {
    throw new RangeError(`not an unsigned integer below 2^53: ${v}`);
  }
  if (v < 0x80) return 1;
  if (v < TWO32) return Math.ceil((32 - Math.clz32(v)) / 7);
  return Math.ceil((64 - Math.clz32(Math.floor(v / TWO32))) / 7);
}

export function sizeU64(v: bigint): number {
  if (v < 0x80n && v >= 0n) return 1;
  if (v <= MAX_SAFE_BIG && v >= 0n) return sizeUint(Number(v));
  if (v < 0n || v > MAX_U64) throw new RangeError(`not a uint64: ${v}`);
  return Math.ceil((64 - Math.clz32(Number(v >> 32n))) / 7);
}

/** Enums are int32: negative values go out as 10-byte two's complement, like Go. */
export const sizeEnum = (v: number): number => (v >= 0 ? sizeUint(v) : 10);
export const sizeBytes = (n: number): number => sizeUint(n) + n;

// ---- writing ----

/** Writes into a buffer sized beforehand; all tags used here fit in one byte (field numbers < 16). */
export class Writer {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
  ) {}

  tag(field: number, wire: number): void {
    this.buf[this.pos++] = (field << 3) | wire;
  }

  uint(v: number): void {
    const b = this.buf;
    let p = this.pos;
    while (v > 0x7fffffff) {
      b[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    this.pos = p;
  }

  u64(v: bigint): void {
    if (v <= MAX_SAFE_BIG && v >= 0n) return this.uint(Number(v));
    this.loHi(Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn));
  }

  private loHi(lo: number, hi: number): void {
    const b = this.buf;
    let p = this.pos;
    while (hi !== 0) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    b[p++] = lo;
    this.pos = p;
  }

  enumV(v: number): void {
    if (v >= 0) this.uint(v);
    else this.u64(BigInt.asUintN(64, BigInt(v)));
  }

  bytes(data: Uint8Array): void {
    this.uint(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }

  /** A length-delimited field, left out when empty (proto3's default). */
  bytesField(field: number, data: Uint8Array): void {
    if (data.length === 0) return;
    this.tag(field, WIRE_BYTES);
    this.bytes(data);
  }

  uintField(field: number, v: number): void {
    this.buf[this.pos++] = field << 3;
    this.uint(v);
  }

  u64Field(field: number, v: bigint): void {
    this.buf[this.pos++] = field << 3;
    this.u64(v);
  }

  enumField(field: number, v: number): void {
    this.buf[this.pos++] = field << 3;
    this.enumV(v);
  }
}

// ---- reading ----

export class Reader {
  pos: number;
  /** The low and high 32 bits of the last varint read. */
  lo = 0;
  hi = 0;

  constructor(
    private readonly buf: Uint8Array,
    public end: number = buf.length,
  ) {
    this.pos = 0;
  }

  private varint(): void {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    let lo = 0;
    let x: number;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= end) throw new ProtoDecodeError('unexpected end of varint');
      x = b[p++]!;
      lo |= (x & 0x7f) << shift;
      if (x < 0x80) {
        this.lo = lo >>> 0;
        this.hi = 0;
        this.pos = p;
        return;
      }
    }
    if (p >= end) throw new ProtoDecodeError('unexpected end of varint');
    x = b[p++]!;
    lo |= (x & 0x0f) << 28;
    let hi = (x & 0x7f) >> 4;
    if (x >= 0x80) {
      for (let shift = 3; ; shift += 7) {
        if (shift > 31) throw new ProtoDecodeError('varint too long');
        if (p >= end) throw new ProtoDecodeError('unexpected end of varint');
        x = b[p++]!;
        hi |= (x & 0x7f) << shift;
        if (x < 0x80) break;
      }
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    this.pos = p;
  }

  uint53(what: string): number {
    this.varint();
    if (this.hi > 0x1fffff) throw new ProtoDecodeError(`${what}: value exceeds 2^53-1`);
    return this.hi * TWO32 + this.lo;
  }

  u64(): bigint {
    this.varint();
    return this.hi === 0 ? BigInt(this.lo) : (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** An int32 enum: Go keeps the low 32 bits, as a signed value. */
  int32(): number {
    this.varint();
    return this.lo | 0;
  }

  bool(): boolean {
    this.varint();
    return (this.lo | this.hi) !== 0;
  }

  /** Reads a length prefix; returns the end offset of the delimited bytes. */
  delimitedEnd(): number {
    const n = this.uint53('length');
    if (n > this.end - this.pos) throw new ProtoDecodeError('length exceeds buffer');
    return this.pos + n;
  }

  bytes(): Uint8Array {
    const end = this.delimitedEnd();
    // A fresh Uint8Array even when the input is a Buffer (whose slice() would be a view).
    const out = new Uint8Array(end - this.pos);
    out.set(this.buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  /** Reads a field key: field number * 8 + wire type (field numbers are at most 2^29-1). */
  key(): number {
    this.varint();
    if (this.hi !== 0 || this.lo >>> 3 === 0) {
      throw new ProtoDecodeError(`invalid field number ${this.hi * 0x20000000 + (this.lo >>> 3)}`);
    }
    return this.lo;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        return this.advance(8);
      case WIRE_BYTES:
        this.pos = this.delimitedEnd();
        return;
      case WIRE_FIXED32:
        return this.advance(4);
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.end) throw new ProtoDecodeError('unexpected end of buffer');
    this.pos += n;
  }

  /** Runs `body` over the next length-delimited field as a sub-message. */
  nested<T>(body: (r: Reader) => T): T {
    const end = this.delimitedEnd();
    const outer = this.end;
    this.end = end;
    const v = body(this);
    this.end = outer;
    return v;
  }
}

/** Checks the wire type of a known field. */
export function want(key: number, wire: number): void {
  if ((key & 7) !== wire) throw new ProtoDecodeError(`wrong wire type ${key & 7} for field ${key >>> 3}`);
}

/** A repeated uint64, packed or not. */
export function readIds(r: Reader, key: number, into: bigint[]): void {
  if ((key & 7) === WIRE_VARINT) {
    into.push(r.u64());
    return;
  }
  want(key, WIRE_BYTES);
  r.nested((n) => {
    while (n.pos < n.end) into.push(n.u64());
  });
}
