// The HTTP/2 fuzzer's inputs (test/h2_fuzz.test.ts): one case is the bytes a client sends on one
// connection, made from a seed alone, so that a failing case replays exactly. A case starts as valid
// request traffic (gRPC calls of etcd's services, HPACK with every representation, Huffman included,
// and a dynamic table kept in step; gRPC messages with their 5-byte prefix) and is then mutated: bit
// flips, length, type, flag and stream id changes, frames dropped, doubled, swapped or inserted,
// random HPACK blocks, random gRPC prefixes, truncation, and random write boundaries.
import { writeInt } from '../../src/api/http/hpack.ts';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  PADDED,
  PING,
  PREFACE,
  PRIORITY,
  PRIORITY_FLAG,
  PUSH_PROMISE,
  RST_STREAM,
  SETTINGS,
  WINDOW_UPDATE,
  frame,
  u32,
  type Header,
} from './h2_wire.ts';

// ---- a seedable PRNG (sfc32), so a case is a function of (seed, case number)

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = seed >>> 0;
    this.b = (stream * 0x9e3779b9) >>> 0;
    this.c = 0x243f6a88 ^ (seed >>> 0);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 2 ** 32) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }

  /** A length that is usually small, sometimes not. */
  size(max = 64): number {
    return this.chance(0.9) ? this.int(max) : this.int(max * 64);
  }
}

// ---- HPACK, encoder side, with Huffman (RFC 7541 Appendix B) and a dynamic table kept in step

/** Code lengths of symbols 0..256 (EOS), RFC 7541 Appendix B (the same table huffman.ts decodes). */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/** The canonical code of each symbol (the code is canonical: lengths alone fix the words). */
const CODES: number[] = (() => {
  const codes = new Array<number>(257).fill(0);
  let code = 0;
  for (let len = 1; len <= 30; len++) {
    for (let s = 0; s < 257; s++) {
      if (CODE_LENGTHS[s] === len) codes[s] = code++;
    }
    code *= 2;
  }
  return codes;
})();

export function huffmanEncode(s: Buffer): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const byte of s) {
    const len = CODE_LENGTHS[byte]!;
    const code = CODES[byte]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((code >>> i) & 1);
      if (++bits === 8) {
        out.push(acc & 0xff);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Buffer.from(out);
}

/** RFC 7541 Appendix A, the entries a request uses (index -> [name, value]). */
const STATIC: readonly (readonly [number, string, string])[] = [
  [1, ':authority', ''],
  [2, ':method', 'GET'],
  [3, ':method', 'POST'],
  [4, ':path', '/'],
  [6, ':scheme', 'http'],
  [7, ':scheme', 'https'],
  [31, 'content-type', ''],
  [58, 'user-agent', ''],
];

/** An HPACK encoder that picks a random representation for every field and tracks its table. */
export class FuzzEncoder {
  private table: [string, string][] = [];
  private size = 0;
  private max = 4096;

  constructor(private readonly rng: Rng) {}

  private str(s: string): Buffer {
    const raw = Buffer.from(s, 'latin1');
    if (this.rng.chance(0.4)) {
      const h = huffmanEncode(raw);
      return Buffer.concat([writeInt(h.length, 7, 0x80), h]);
    }
    return Buffer.concat([writeInt(raw.length, 7, 0), raw]);
  }

  private add(name: string, value: string): void {
    const s = name.length + value.length + 32;
    while (this.table.length > 0 && this.size + s > this.max) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
    if (s > this.max) return;
    this.table.unshift([name, value]);
    this.size += s;
  }

  block(fields: readonly Header[]): Buffer {
    const r = this.rng;
    const parts: Buffer[] = [];
    if (r.chance(0.05)) {
      this.max = r.pick([0, 256, 4096]);
      while (this.size > this.max) {
        const [n, v] = this.table.pop()!;
        this.size -= n.length + v.length + 32;
      }
      parts.push(writeInt(this.max, 5, 0x20));
    }
    for (const [name, value] of fields) {
      const full = STATIC.find(([, n, v]) => n === name && v === value);
      const dyn = this.table.findIndex(([n, v]) => n === name && v === value);
      if (dyn >= 0 && r.chance(0.7)) {
        parts.push(writeInt(62 + dyn, 7, 0x80));
        continue;
      }
      if (full !== undefined && r.chance(0.7)) {
        parts.push(writeInt(full[0], 7, 0x80));
        continue;
      }
      const nameIdx = STATIC.find(([, n]) => n === name)?.[0];
      const kind = r.int(3); // 0: incremental indexing, 1: without indexing, 2: never indexed
      const [prefix, flags] = kind === 0 ? [6, 0x40] : kind === 1 ? [4, 0x00] : [4, 0x10];
      if (nameIdx !== undefined && r.chance(0.5)) parts.push(writeInt(nameIdx, prefix, flags));
      else parts.push(writeInt(0, prefix, flags), this.str(name));
      parts.push(this.str(value));
      if (kind === 0) this.add(name, value);
    }
    return Buffer.concat(parts);
  }
}

// ---- gRPC requests of etcd's services, as raw protobuf

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
const bytesField = (tag: number, b: Buffer): Buffer =>
  Buffer.concat([varint((tag << 3) | 2), varint(b.length), b]);
const intField = (tag: number, n: number): Buffer => Buffer.concat([varint(tag << 3), varint(n)]);

/** A random protobuf message: fields of random numbers and wire types, or plain noise. */
function noise(r: Rng, depth = 0): Buffer {
  if (r.chance(0.3)) return r.bytes(r.size(32));
  const parts: Buffer[] = [];
  const n = r.int(6);
  for (let i = 0; i < n; i++) {
    const tag = 1 + r.int(12);
    switch (r.int(4)) {
      case 0:
        parts.push(intField(tag, r.chance(0.5) ? r.int(1000) : r.next() * 2 ** 21 + r.next()));
        break;
      case 1:
        parts.push(bytesField(tag, depth < 2 && r.chance(0.3) ? noise(r, depth + 1) : r.bytes(r.size(24))));
        break;
      case 2:
        parts.push(varint((tag << 3) | 5), r.bytes(4));
        break;
      default:
        parts.push(varint((tag << 3) | 1), r.bytes(8));
    }
  }
  return Buffer.concat(parts);
}

const key = (r: Rng): Buffer =>
  r.chance(0.8)
    ? Buffer.from(`fuzz/${r.pick(['a', 'b', 'c', 'dir/x', 'dir/y'])}`)
    : Buffer.concat([Buffer.from('fuzz/'), r.bytes(r.size(16))]);

interface Method {
  path: string;
  /** Whether the client streams requests (bidi): several messages, END_STREAM maybe never. */
  bidi?: true;
  message(r: Rng): Buffer;
}

/**
 * The calls the fuzzer makes. No method that could take the member out of service for the probe
 * (membership changes, auth, alarms) is called on purpose; a mutated path rarely becomes one.
 */
const METHODS: Method[] = [
  {
    path: '/etcdserverpb.KV/Range',
    message: (r) =>
      Buffer.concat([
        bytesField(1, key(r)),
        r.chance(0.3) ? bytesField(2, Buffer.from('fuzz0')) : Buffer.alloc(0),
        r.chance(0.3) ? intField(3, r.int(10)) : Buffer.alloc(0),
        r.chance(0.2) ? intField(7, 1) : Buffer.alloc(0),
        r.chance(0.1) ? intField(4, r.int(100)) : Buffer.alloc(0),
      ]),
  },
  {
    path: '/etcdserverpb.KV/Put',
    message: (r) =>
      Buffer.concat([
        bytesField(1, key(r)),
        bytesField(2, r.bytes(r.size(128))),
        r.chance(0.2) ? intField(4, 1) : Buffer.alloc(0),
      ]),
  },
  {
    path: '/etcdserverpb.KV/DeleteRange',
    message: (r) => Buffer.concat([bytesField(1, key(r)), r.chance(0.3) ? intField(3, 1) : Buffer.alloc(0)]),
  },
  {
    path: '/etcdserverpb.KV/Txn',
    message: (r) => {
      const cmp = Buffer.concat([
        intField(1, r.int(3)),
        intField(2, r.int(4)),
        bytesField(3, key(r)),
        intField(4, r.int(5)),
      ]);
      const put = bytesField(2, Buffer.concat([bytesField(1, key(r)), bytesField(2, r.bytes(r.size(16)))]));
      const range = bytesField(1, bytesField(1, key(r)));
      return Buffer.concat([bytesField(1, cmp), bytesField(2, put), bytesField(3, range)]);
    },
  },
  {
    path: '/etcdserverpb.KV/Compact',
    message: (r) => intField(1, r.int(5)),
  },
  {
    path: '/etcdserverpb.Watch/Watch',
    bidi: true,
    message: (r) =>
      r.chance(0.7)
        ? bytesField(
            1,
            Buffer.concat([
              bytesField(1, key(r)),
              r.chance(0.3) ? bytesField(2, Buffer.from('fuzz0')) : Buffer.alloc(0),
              r.chance(0.3) ? intField(6, 1) : Buffer.alloc(0),
            ]),
          )
        : r.chance(0.5)
          ? bytesField(2, intField(1, r.int(5)))
          : bytesField(3, Buffer.alloc(0)),
  },
  {
    path: '/etcdserverpb.Lease/LeaseGrant',
    message: (r) =>
      Buffer.concat([
        intField(1, 1 + r.int(100)),
        r.chance(0.3) ? intField(2, r.int(1000)) : Buffer.alloc(0),
      ]),
  },
  {
    path: '/etcdserverpb.Lease/LeaseRevoke',
    message: (r) => intField(1, r.int(1000)),
  },
  {
    path: '/etcdserverpb.Lease/LeaseKeepAlive',
    bidi: true,
    message: (r) => intField(1, r.int(1000)),
  },
  {
    path: '/etcdserverpb.Lease/LeaseTimeToLive',
    message: (r) => Buffer.concat([intField(1, r.int(1000)), intField(2, r.int(2))]),
  },
  { path: '/etcdserverpb.Lease/LeaseLeases', message: () => Buffer.alloc(0) },
  { path: '/etcdserverpb.Maintenance/Status', message: () => Buffer.alloc(0) },
  { path: '/etcdserverpb.Maintenance/HashKV', message: (r) => intField(1, r.int(5)) },
  { path: '/etcdserverpb.Cluster/MemberList', message: () => Buffer.alloc(0) },
  { path: '/v3lockpb.Lock/Unlock', message: (r) => bytesField(1, key(r)) },
  { path: '/grpc.health.v1.Health/Check', message: () => Buffer.alloc(0) },
  { path: '/etcdserverpb.KV/NoSuchMethod', message: (r) => noise(r) },
  { path: '/no.such.Service/Call', message: (r) => noise(r) },
];

/** A gRPC message's bytes: a valid prefix, or a mutated one (flag, length). */
function grpcMessage(r: Rng, payload: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(payload.length, 1);
  if (r.chance(0.1)) {
    // A random prefix: compressed flag, a length that lies.
    h[0] = r.pick([0, 1, 2, 0xff]);
    h.writeUInt32BE(
      r.pick([
        0,
        1,
        payload.length + 1,
        Math.max(0, payload.length - 1),
        0xffffffff,
        r.next(),
        15,
        4 << 20,
      ]) >>> 0,
      1,
    );
  }
  return Buffer.concat([h, payload]);
}

function requestFields(r: Rng, path: string): Header[] {
  const f: Header[] = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', r.chance(0.5) ? '127.0.0.1:2379' : 'http://127.0.0.1:2379'],
    [
      'content-type',
      r.pick(['application/grpc', 'application/grpc', 'application/grpc+proto', 'text/plain']),
    ],
    ['te', 'trailers'],
  ];
  if (r.chance(0.2)) f.push(['grpc-timeout', r.pick(['1S', '100m', '5H', '0n', 'junk', '99999999S'])]);
  if (r.chance(0.1)) f.push(['grpc-encoding', r.pick(['identity', 'gzip', 'snappy', ''])]);
  if (r.chance(0.3)) f.push(['user-agent', 'grpc-go/1.26.0']);
  const extra = r.int(3);
  for (let i = 0; i < extra; i++) f.push([`x-fuzz-${r.int(5)}`, r.bytes(r.size(16)).toString('latin1')]);
  return f;
}

// ---- one case

/** One frame as built before mutation (so mutations can act on frames). */
type Frames = Buffer[];

function settingsPayload(r: Rng): Buffer {
  const n = r.int(4);
  const p = Buffer.alloc(6 * n);
  for (let i = 0; i < n; i++) {
    const id = r.chance(0.8) ? 1 + r.int(6) : r.int(0x10000);
    let v: number;
    switch (id) {
      case 4:
        v = r.pick([0, 1, 65_535, 1 << 20, 2 ** 31 - 1, 2 ** 31]);
        break;
      case 5:
        v = r.pick([16_384, 16_383, 65_536, 2 ** 24 - 1, 2 ** 24]);
        break;
      default:
        v = r.chance(0.5) ? r.int(5000) : r.next();
    }
    p.writeUInt16BE(id, 6 * i);
    p.writeUInt32BE(v >>> 0, 6 * i + 2);
  }
  return p;
}

/** Valid request traffic: a few calls, pings and window updates, on one connection. */
function validTraffic(r: Rng): Frames {
  const enc = new FuzzEncoder(r);
  const frames: Frames = [];
  let id = 1;
  const calls = 1 + r.int(5);
  for (let i = 0; i < calls; i++) {
    const m = r.pick(METHODS);
    const block = enc.block(requestFields(r, m.path));
    // The header block, sometimes split over CONTINUATION frames, sometimes with priority/padding.
    let flags = 0;
    let first = block;
    if (r.chance(0.2)) {
      flags |= PRIORITY_FLAG;
      const pr = Buffer.alloc(5);
      pr.writeUInt32BE(r.int(id + 2), 0);
      pr[4] = r.int(256);
      first = Buffer.concat([pr, first]);
    }
    if (r.chance(0.1)) {
      flags |= PADDED;
      const pad = r.int(20);
      first = Buffer.concat([Buffer.from([pad]), first, Buffer.alloc(pad)]);
    }
    const messages = m.bidi ? r.int(4) : 1;
    const body = Buffer.concat(
      Array.from({ length: messages }, () => grpcMessage(r, r.chance(0.85) ? m.message(r) : noise(r))),
    );
    const endOnHeaders = body.length === 0 && r.chance(0.5);
    if (r.chance(0.2) && !(flags & (PRIORITY_FLAG | PADDED)) && block.length > 4) {
      const cut = 1 + r.int(block.length - 1);
      frames.push(frame(HEADERS, endOnHeaders ? END_STREAM : 0, id, block.subarray(0, cut)));
      frames.push(frame(CONTINUATION, END_HEADERS, id, block.subarray(cut)));
    } else {
      frames.push(frame(HEADERS, flags | END_HEADERS | (endOnHeaders ? END_STREAM : 0), id, first));
    }
    if (!endOnHeaders) {
      // The body in one or more DATA frames; a bidi stream may stay open.
      let at = 0;
      const end = !m.bidi || r.chance(0.6);
      do {
        const n = Math.min(
          body.length - at,
          r.chance(0.5) ? body.length : 1 + r.int(Math.max(1, body.length)),
        );
        const last = at + n >= body.length;
        frames.push(frame(DATA, last && end ? END_STREAM : 0, id, body.subarray(at, at + n)));
        at += n;
      } while (at < body.length);
    }
    if (r.chance(0.2)) frames.push(frame(WINDOW_UPDATE, 0, r.chance(0.5) ? 0 : id, u32(1 + r.int(1 << 20))));
    if (r.chance(0.1)) frames.push(frame(PING, 0, 0, r.bytes(8)));
    if (r.chance(0.1)) frames.push(frame(RST_STREAM, 0, id, u32(r.int(14))));
    id += 2;
  }
  return frames;
}

/** A random frame of any kind (what an attacker or a broken client might send). */
function randomFrame(r: Rng, maxId: number): Buffer {
  const type = r.chance(0.9) ? r.int(10) : r.int(256);
  const id = r.pick([0, 1, 2, maxId, maxId + 2, r.int(maxId + 4), 0x7fffffff, 0x80000001]);
  let payload: Buffer;
  switch (type) {
    case SETTINGS:
      payload = settingsPayload(r);
      break;
    case WINDOW_UPDATE:
    case RST_STREAM:
      payload = u32(r.chance(0.5) ? r.int(16) : r.next());
      break;
    case PING:
      payload = r.bytes(r.chance(0.8) ? 8 : r.int(16));
      break;
    case GOAWAY:
      payload = Buffer.concat([u32(r.int(maxId + 2)), u32(r.int(14)), r.bytes(r.int(8))]);
      break;
    case PRIORITY:
      payload = r.bytes(r.chance(0.8) ? 5 : r.int(8));
      break;
    case HEADERS:
    case CONTINUATION:
    case PUSH_PROMISE:
      // A random HPACK block: noise, or a run of random representations.
      payload = r.chance(0.5) ? r.bytes(r.size(64)) : randomHpack(r);
      break;
    default:
      payload = r.bytes(r.size(64));
  }
  return frame(type, r.int(256), id >>> 0, payload);
}

/** HPACK representations with random indices, lengths and strings. */
function randomHpack(r: Rng): Buffer {
  const parts: Buffer[] = [];
  const n = 1 + r.int(8);
  for (let i = 0; i < n; i++) {
    switch (r.int(5)) {
      case 0:
        parts.push(writeInt(r.int(80), 7, 0x80));
        break;
      case 1:
        parts.push(writeInt(r.int(5000), 5, 0x20));
        break;
      default: {
        const flags = r.pick([0x00, 0x10, 0x40]);
        const prefix = flags === 0x40 ? 6 : 4;
        parts.push(writeInt(r.int(70), prefix, flags));
        if (r.chance(0.5)) parts.push(writeInt(r.int(20), 7, r.chance(0.3) ? 0x80 : 0), r.bytes(r.int(20)));
        parts.push(writeInt(r.int(40), 7, r.chance(0.3) ? 0x80 : 0), r.bytes(r.int(40)));
      }
    }
  }
  return Buffer.concat(parts);
}

/** Mutations on the frame list. */
function mutate(r: Rng, frames: Frames, maxId: number): void {
  const n = r.int(5);
  for (let i = 0; i < n; i++) {
    const at = r.int(frames.length);
    const f = frames[at];
    switch (r.int(11)) {
      case 0: // bit flips anywhere in the frame
        if (f) {
          const b = Buffer.from(f);
          for (let k = 0, flips = 1 + r.int(4); k < flips; k++) {
            const bit = r.int(b.length * 8);
            b[bit >> 3]! ^= 1 << (bit & 7);
          }
          frames[at] = b;
        }
        break;
      case 1: // the length field lies
        if (f) {
          const b = Buffer.from(f);
          const len = b.readUIntBE(0, 3);
          b.writeUIntBE(r.pick([0, len + 1, Math.max(0, len - 1), r.int(1 << 24), 16_385, r.int(64)]), 0, 3);
          frames[at] = b;
        }
        break;
      case 2: // another type
        if (f) {
          const b = Buffer.from(f);
          b[3] = r.chance(0.8) ? r.int(10) : r.int(256);
          frames[at] = b;
        }
        break;
      case 3: // other flags
        if (f) {
          const b = Buffer.from(f);
          b[4] = r.int(256);
          frames[at] = b;
        }
        break;
      case 4: // another stream
        if (f) {
          const b = Buffer.from(f);
          b.writeUInt32BE(
            r.pick([0, 2, 1, maxId + 2, r.int(maxId + 4), 0x80000000 | (b.readUInt32BE(5) & 0x7fffffff)]) >>>
              0,
            5,
          );
          frames[at] = b;
        }
        break;
      case 5: // dropped
        frames.splice(at, 1);
        break;
      case 6: // doubled
        if (f) frames.splice(at, 0, f);
        break;
      case 7: {
        // swapped with another
        const j = r.int(frames.length);
        if (f && frames[j]) [frames[at], frames[j]] = [frames[j]!, f];
        break;
      }
      case 8: // a random frame inserted
        frames.splice(at, 0, randomFrame(r, maxId));
        break;
      case 9: // a burst of one random frame
        frames.splice(at, 0, ...Array.from({ length: 1 + r.int(50) }, () => randomFrame(r, maxId)));
        break;
      default: // a random HPACK block as a request
        frames.splice(at, 0, frame(HEADERS, r.int(256) | END_HEADERS, maxId + 2, randomHpack(r)));
    }
  }
}

export interface FuzzCase {
  /** The bytes, in the writes they are sent in. */
  writes: Buffer[];
  /** The highest stream id in the frames built (what the server may answer on, at most). */
  maxId: number;
  /** A short description for failure messages. */
  what: string;
}

/** Case `n` of `seed`: a pure function of the two. */
export function fuzzCase(seed: number, n: number): FuzzCase {
  const r = new Rng(seed, n + 1);
  const frames = validTraffic(r);
  const maxId = 2 * frames.length + 3;
  const mutated = r.chance(0.85);
  if (mutated) mutate(r, frames, maxId);
  // The preface and SETTINGS, usually whole.
  const start: Buffer[] = [
    PREFACE,
    frame(SETTINGS, 0, 0, r.chance(0.7) ? Buffer.alloc(0) : settingsPayload(r)),
  ];
  if (r.chance(0.03)) start[0] = PREFACE.subarray(0, r.int(PREFACE.length));
  if (r.chance(0.02)) start[0] = r.bytes(24);
  let bytes = Buffer.concat([...start, ...frames]);
  if (r.chance(0.1)) bytes = bytes.subarray(0, r.int(bytes.length));
  if (r.chance(0.05)) bytes = Buffer.concat([bytes, r.bytes(r.size(200))]);
  // Random write boundaries.
  const writes: Buffer[] = [];
  if (r.chance(0.5)) writes.push(bytes);
  else {
    let at = 0;
    while (at < bytes.length) {
      const n2 = 1 + r.int(r.chance(0.5) ? 16 : 512);
      writes.push(bytes.subarray(at, at + n2));
      at += n2;
    }
  }
  return {
    writes,
    maxId,
    what: `${frames.length} frames, ${bytes.length} bytes${mutated ? ', mutated' : ''}`,
  };
}
