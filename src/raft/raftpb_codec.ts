// Protobuf encoding of the conf changes the raft core itself must read and write (proposeConfChange,
// applying and describing conf-change entries). Hand-written so src/raft stays free of dependencies;
// field numbers are those of proto/raftpb/raft.proto (etcd's). uint64 values are bigint end to end.
//
// Encoding follows etcd (gogoproto, non-nullable fields): id/type/node_id and transition are written even
// when zero, context only when non-empty. Decoding accepts any field order and skips unknown fields.
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  EntryType,
} from './raftpb.ts';

export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

const EMPTY = new Uint8Array(0);

class Writer {
  private bytes: number[] = [];

  varint(v: bigint): void {
    let u = BigInt.asUintN(64, v); // negative enum values go out as 10-byte two's complement, like Go
    while (u >= 0x80n) {
      this.bytes.push(Number(u & 0x7fn) | 0x80);
      u >>= 7n;
    }
    this.bytes.push(Number(u));
  }

  tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  uint64(field: number, v: bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  enumField(field: number, v: number): void {
    this.uint64(field, BigInt(v));
  }

  bytesField(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(BigInt(b.length));
    for (const x of b) this.bytes.push(x);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new ProtoDecodeError('unexpected end of varint');
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new ProtoDecodeError('varint too long');
  }

  /** An int32 enum: Go keeps the low 32 bits, as a signed value. */
  enumValue(): number {
    return Number(BigInt.asIntN(32, this.varint()));
  }

  lengthDelimited(): Uint8Array {
    const n = this.varint();
    if (n > BigInt(this.buf.length - this.pos)) throw new ProtoDecodeError('length exceeds buffer');
    const start = this.pos;
    this.pos += Number(n);
    return this.buf.slice(start, this.pos);
  }

  /** Reads a field key; returns [field number, wire type]. */
  key(): [number, number] {
    const k = this.varint();
    const field = Number(k >> 3n);
    if (field === 0 || k >> 3n > 0x1fffffffn) throw new ProtoDecodeError(`invalid field number ${k >> 3n}`);
    return [field, Number(k & 7n)];
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_BYTES:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    }
  }

  private advance(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtoDecodeError('unexpected end of buffer');
    this.pos += n;
  }
}

function expectWire(field: number, got: number, want: number): void {
  if (got !== want) throw new ProtoDecodeError(`wrong wire type ${got} for field ${field}`);
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const w = new Writer();
  w.uint64(1, cc.id);
  w.enumField(2, cc.type);
  w.uint64(3, cc.nodeId);
  if (cc.context.length > 0) w.bytesField(4, cc.context);
  return w.finish();
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  const cc: ConfChange = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0n, context: EMPTY, id: 0n };
  const r = new Reader(buf);
  while (!r.done()) {
    const [field, wire] = r.key();
    switch (field) {
      case 1:
        expectWire(field, wire, WIRE_VARINT);
        cc.id = r.varint();
        break;
      case 2:
        expectWire(field, wire, WIRE_VARINT);
        cc.type = r.enumValue();
        break;
      case 3:
        expectWire(field, wire, WIRE_VARINT);
        cc.nodeId = r.varint();
        break;
      case 4:
        expectWire(field, wire, WIRE_BYTES);
        cc.context = r.lengthDelimited();
        break;
      default:
        r.skip(wire);
    }
  }
  return cc;
}

function encodeConfChangeSingle(c: ConfChangeSingle): Uint8Array {
  const w = new Writer();
  w.enumField(1, c.type);
  w.uint64(2, c.nodeId);
  return w.finish();
}

function decodeConfChangeSingle(buf: Uint8Array): ConfChangeSingle {
  const c: ConfChangeSingle = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0n };
  const r = new Reader(buf);
  while (!r.done()) {
    const [field, wire] = r.key();
    if (field === 1) {
      expectWire(field, wire, WIRE_VARINT);
      c.type = r.enumValue();
    } else if (field === 2) {
      expectWire(field, wire, WIRE_VARINT);
      c.nodeId = r.varint();
    } else {
      r.skip(wire);
    }
  }
  return c;
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const w = new Writer();
  w.enumField(1, cc.transition);
  for (const c of cc.changes) w.bytesField(2, encodeConfChangeSingle(c));
  if (cc.context.length > 0) w.bytesField(3, cc.context);
  return w.finish();
}

/** An empty buffer decodes to the empty ConfChangeV2, i.e. "leave the joint config". */
export function decodeConfChangeV2(buf: Uint8Array): ConfChangeV2 {
  const cc: ConfChangeV2 = {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [],
    context: EMPTY,
  };
  const r = new Reader(buf);
  while (!r.done()) {
    const [field, wire] = r.key();
    switch (field) {
      case 1:
        expectWire(field, wire, WIRE_VARINT);
        cc.transition = r.enumValue();
        break;
      case 2:
        expectWire(field, wire, WIRE_BYTES);
        cc.changes.push(decodeConfChangeSingle(r.lengthDelimited()));
        break;
      case 3:
        expectWire(field, wire, WIRE_BYTES);
        cc.context = r.lengthDelimited();
        break;
      default:
        r.skip(wire);
    }
  }
  return cc;
}

/** The entry type and payload for proposing a conf change (v1 stays v1, like etcd's MarshalConfChange). */
export function marshalConfChange(cc: ConfChange | ConfChangeV2): { type: EntryType; data: Uint8Array } {
  if ('nodeId' in cc) return { type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
  return { type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) };
}

/** Decodes the payload of a conf-change entry of the given type. */
export function unmarshalConfChange(type: EntryType, data: Uint8Array): ConfChange | ConfChangeV2 {
  if (type === EntryType.EntryConfChange) return decodeConfChange(data);
  if (type === EntryType.EntryConfChangeV2) return decodeConfChangeV2(data);
  throw new ProtoDecodeError(`entry type ${EntryType[type] ?? type} is not a conf change`);
}
