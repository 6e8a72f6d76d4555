// Hand-written protobuf encoding of WatchResponse events. A revision's events reach many watchers, so
// each event is encoded once (cached per event object) and every watcher's response is its own small
// head (header, watch_id, fragment) followed by the shared event bytes: protobuf fields are
// tag + length framed, so pre-encoded `events` entries concatenate into a valid message.
import type { WatchEvent, WatchKV } from '../../server/api.ts';
import { messageType } from '../../proto/index.ts';
import type { Header } from '../../proto/etcdserverpb.ts';

const ResponseHeader = messageType('etcdserverpb.ResponseHeader');

/** Bytes of `v` (a non-negative integer up to 2^53 - 1) as a varint. */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(b: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    b[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  b[at++] = v;
  return at;
}

/** int64 (any sign, as two's complement) from a bigint. */
function bigVarint(v: bigint): Buffer {
  let u = BigInt.asUintN(64, v);
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Buffer.from(out);
}

/** A growing list of parts, concatenated once. */
class Parts {
  readonly list: Buffer[] = [];
  size = 0;

  push(b: Buffer): void {
    this.list.push(b);
    this.size += b.length;
  }

  /** Tag and varint value (field of wire type 0); zero values are omitted, as proto3 does. */
  num(field: number, v: number): void {
    if (v === 0) return;
    const b = Buffer.allocUnsafe(1 + varintSize(v));
    b[0] = field << 3;
    putVarint(b, 1, v);
    this.push(b);
  }

  /** Tag and length prefix of a length-delimited field (wire type 2) of `len` bytes. */
  lenPrefix(field: number, len: number): void {
    const b = Buffer.allocUnsafe(1 + varintSize(len));
    b[0] = (field << 3) | 2;
    putVarint(b, 1, len);
    this.push(b);
  }

  bytes(field: number, v: Buffer): void {
    if (v.length === 0) return;
    this.lenPrefix(field, v.length);
    this.push(v);
  }

  concat(): Buffer {
    return Buffer.concat(this.list, this.size);
  }
}

function encodeKV(kv: WatchKV, deleted: boolean): Buffer {
  const p = new Parts();
  p.bytes(1, kv.key);
  if (deleted) {
    // A tombstone carries the key and the deleting revision only.
    p.num(3, kv.modRevision);
    return p.concat();
  }
  p.num(2, kv.createRevision);
  p.num(3, kv.modRevision);
  p.num(4, kv.version);
  p.bytes(5, kv.value);
  if (kv.lease !== 0n) {
    p.push(Buffer.of(6 << 3));
    p.push(bigVarint(kv.lease));
  }
  return p.concat();
}

/** One `events` entry of a WatchResponse (field 11: tag, length, Event message). */
function encodeEventEntry(e: WatchEvent, withPrev: boolean): Buffer {
  const ev = new Parts();
  if (e.type === 'DELETE') ev.num(1, 1);
  const kv = encodeKV(e.kv, e.type === 'DELETE');
  ev.lenPrefix(2, kv.length);
  ev.push(kv);
  if (withPrev && e.prevKv) {
    const prev = encodeKV(e.prevKv, false);
    ev.lenPrefix(3, prev.length);
    ev.push(prev);
  }
  const out = new Parts();
  out.lenPrefix(11, ev.size);
  for (const b of ev.list) out.push(b);
  return out.concat();
}

const plainCache = new WeakMap<WatchEvent, Buffer>();
const prevCache = new WeakMap<WatchEvent, Buffer>();

/** The encoded `events` entry of `e`, computed once per event object and prev_kv choice. */
export function eventEntry(e: WatchEvent, withPrev: boolean): Buffer {
  const cache = withPrev && e.prevKv ? prevCache : plainCache;
  let b = cache.get(e);
  if (b === undefined) {
    b = encodeEventEntry(e, withPrev);
    cache.set(e, b);
  }
  return b;
}

/** The encoded ResponseHeader field (field 1) of a WatchResponse; the last one is reused. */
export class HeaderCache {
  private rev = -1;
  private term = -1;
  private bytes: Buffer = Buffer.alloc(0);

  constructor(private readonly header: (revision: number) => Header) {}

  get(revision: number, term: number): Buffer {
    if (revision !== this.rev || term !== this.term) {
      const h = ResponseHeader.encode(this.header(revision)).finish();
      const p = new Parts();
      p.lenPrefix(1, h.length);
      p.push(Buffer.from(h.buffer, h.byteOffset, h.length));
      this.bytes = p.concat();
      this.rev = revision;
      this.term = term;
    }
    return this.bytes;
  }
}

/** The encoded size of an events response (without the gRPC prefix); see writeResponse. */
export function responseSize(header: Buffer, watchId: number, entries: Buffer[], fragment: boolean): number {
  let size = header.length + (watchId === 0 ? 0 : 1 + varintSize(watchId)) + (fragment ? 2 : 0);
  for (const e of entries) size += e.length;
  return size;
}

/**
 * Writes a WatchResponse carrying events (header, watch_id, fragment flag, the event entries) of
 * `size` bytes (responseSize) into `out` at `at`, preceded by the gRPC message prefix when `prefix`.
 * Returns the offset after it.
 */
export function writeResponse(
  out: Buffer,
  at: number,
  size: number,
  header: Buffer,
  watchId: number,
  entries: Buffer[],
  fragment: boolean,
  prefix: boolean,
): number {
  if (prefix) {
    out[at] = 0;
    out.writeUInt32BE(size, at + 1);
    at += 5;
  }
  at += header.copy(out, at);
  if (watchId !== 0) {
    out[at++] = 2 << 3;
    at = putVarint(out, at, watchId);
  }
  if (fragment) {
    out[at++] = 7 << 3;
    out[at++] = 1;
  }
  for (const e of entries) at += e.copy(out, at);
  return at;
}

/** An events response in a Buffer of its own (with the gRPC prefix first when `prefix`). */
export function eventsResponse(
  header: Buffer,
  watchId: number,
  entries: Buffer[],
  fragment: boolean,
  prefix = false,
): Buffer {
  const size = responseSize(header, watchId, entries, fragment);
  const out = Buffer.allocUnsafe((prefix ? 5 : 0) + size);
  writeResponse(out, 0, size, header, watchId, entries, fragment, prefix);
  return out;
}
