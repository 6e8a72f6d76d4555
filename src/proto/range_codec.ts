// etcdserverpb.RangeResponse written straight into one buffer sized first, byte for byte what the
// protobufjs encoder writes for the same object (every field present in the object, in field order),
// without protobufjs's per-field work: a Range answers up to millions of KeyValues, and encoding them
// one Long conversion at a time was most of a full range's time. The header is small and encoded by
// protobufjs as before.
import type Long from 'long';
import { messageType } from './index.ts';

/** A KeyValue as the Range path builds it (server/txn/kv_view.ts kvToMsg). */
export interface KeyValueOut {
  key: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
  value?: Uint8Array;
  lease?: Long;
}

export interface RangeResponseOut {
  header?: object;
  kvs: KeyValueOut[];
  more?: boolean;
  count?: number;
}

const ResponseHeader = messageType('etcdserverpb.ResponseHeader');

const TWO32 = 4294967296;

function sizeVarint(v: number): number {
  if (v < 0x80) return 1;
  if (v < TWO32) return Math.ceil((32 - Math.clz32(v)) / 7);
  return Math.ceil((64 - Math.clz32(Math.floor(v / TWO32))) / 7);
}

/** Bytes of a Long's int64 varint (negative: 10, as two's complement). */
function sizeLong(l: Long): number {
  const lo = l.low >>> 0;
  const hi = l.high >>> 0;
  if (hi === 0) return sizeVarint(lo);
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

function kvSize(kv: KeyValueOut): number {
  let n = 1 + sizeVarint(kv.key.length) + kv.key.length;
  n += 1 + sizeVarint(kv.createRevision) + 1 + sizeVarint(kv.modRevision) + 1 + sizeVarint(kv.version);
  if (kv.value !== undefined) n += 1 + sizeVarint(kv.value.length) + kv.value.length;
  if (kv.lease !== undefined) n += 1 + sizeLong(kv.lease);
  return n;
}

class Out {
  pos = 0;
  constructor(readonly b: Buffer) {}

  varint(v: number): void {
    const b = this.b;
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

  long(l: Long): void {
    const b = this.b;
    let p = this.pos;
    let lo = l.low >>> 0;
    let hi = l.high >>> 0;
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

  bytes(tag: number, data: Uint8Array): void {
    this.b[this.pos++] = tag;
    this.varint(data.length);
    this.b.set(data, this.pos);
    this.pos += data.length;
  }
}

/** Encodes `r` as protobufjs would (RangeResponse: header 1, kvs 2, more 3, count 4). */
export function encodeRangeResponse(r: RangeResponseOut): Buffer {
  const header = r.header !== undefined ? ResponseHeader.encode(r.header).finish() : undefined;
  let size = header !== undefined ? 1 + sizeVarint(header.length) + header.length : 0;
  const sizes = new Array<number>(r.kvs.length);
  for (let i = 0; i < r.kvs.length; i++) {
    const s = kvSize(r.kvs[i]!);
    sizes[i] = s;
    size += 1 + sizeVarint(s) + s;
  }
  if (r.more !== undefined) size += 2;
  if (r.count !== undefined) size += 1 + sizeVarint(r.count);
  const w = new Out(Buffer.allocUnsafe(size));
  if (header !== undefined) w.bytes(0x0a, header);
  for (let i = 0; i < r.kvs.length; i++) {
    const kv = r.kvs[i]!;
    w.b[w.pos++] = 0x12;
    w.varint(sizes[i]!);
    w.bytes(0x0a, kv.key);
    w.b[w.pos++] = 0x10;
    w.varint(kv.createRevision);
    w.b[w.pos++] = 0x18;
    w.varint(kv.modRevision);
    w.b[w.pos++] = 0x20;
    w.varint(kv.version);
    if (kv.value !== undefined) w.bytes(0x2a, kv.value);
    if (kv.lease !== undefined) {
      w.b[w.pos++] = 0x30;
      w.long(kv.lease);
    }
  }
  if (r.more !== undefined) {
    w.b[w.pos++] = 0x18;
    w.b[w.pos++] = r.more ? 1 : 0;
  }
  if (r.count !== undefined) {
    w.b[w.pos++] = 0x20;
    w.varint(r.count);
  }
  return w.b;
}
