// Which request bytes etcd 3.4 refuses, and with which words.
//
// protobufjs decodes leniently (field 0, group tags, wire types 6/7, a wrong wire type for a known
// field all pass), while etcd 3.4.23 decodes every request with the Unmarshal that protoc-gen-gogo
// (gogo/protobuf) generated into its rpc.pb.go, kv.pb.go, auth.pb.go, v3lock.pb.go and
// v3election.pb.go. A request etcd refuses must be refused here too, with the same error text, so the
// check runs on the raw bytes before protobufjs sees them: one pass, no allocation when the bytes
// are fine, a table per message type built once.
//
// What the generated Unmarshal does, as this module reproduces it (facts of etcd 3.4.23's files):
// - A tag is a varint of at most 10 bytes (an 11th byte is "proto: integer overflow"; running out of
//   bytes is "unexpected EOF"). Wire type 4 is "proto: <Msg>: wiretype end group for non-group"; the
//   field number is int32(tag >> 3), and a number <= 0 is "proto: <Msg>: illegal tag <n> (wire type
//   <whole tag>)" (the second number is the whole tag, not the wire type). <Msg> is the message's
//   name in its .proto file ("RangeRequest", "Compare", "LeaderKey").
// - A known field with another wire type is "proto: wrong wireType = <wt> for field <GoName>";
//   repeated numeric fields take both their own wire type and 2 (packed). Values are skipped with
//   the same varint rules; lengths are Go ints: negative -> "proto: negative length found during
//   unmarshaling", past the end -> "unexpected EOF". Messages are checked recursively with their own
//   name. Strings are not checked for UTF-8.
// - Unknown fields are skipped as the generated skip function does: wire types 0, 1, 2, 5 and groups
//   (3 ... 4, nested, any end tag closes the innermost group), 6 and 7 are "proto: illegal wireType
//   <wt>". Fixed-size values and lengths are checked against the end only after the skip.
// - Oddities kept on purpose: a packed run's last varint may run past the run (bounded by the
//   message); a packed length so large that the index overflows int64 reads as an empty run.
// - Where etcd 3.4 itself panics (a length whose end overflows int64 for a bytes, string or message
//   field, or inside a skipped group: Go's slice bounds check; grpc-go does not recover, so etcd
//   exits), this module answers "proto: negative length found during unmarshaling", which is what
//   later gogo versions return there.
//
// grpc.health.v1.HealthCheckRequest is not gogo's: etcd's build decodes it with golang/protobuf
// 1.3's table-driven unmarshal, whose rules differ (see goprotoV1WireChecker).
//
// grpc-go (1.33.3 in the etcd 3.4.23 build) wraps the decoder's error, with code INTERNAL:
//   unary methods:                      "grpc: error unmarshalling request: " + err
//   messages read from a stream (Watch, LeaseKeepAlive, and the single request of a server-streaming
//   method: Snapshot, Observe, Health.Watch): "grpc: failed to unmarshal the received message " + err
//   (no colon).
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';

export const ERR_UNEXPECTED_EOF = 'unexpected EOF';
export const ERR_INT_OVERFLOW = 'proto: integer overflow';
export const ERR_INVALID_LENGTH = 'proto: negative length found during unmarshaling';

/** gRPC status code INTERNAL, the code of every decoding failure. */
export const CODE_INTERNAL = 13;
export const UNARY_DECODE_PREFIX = 'grpc: error unmarshalling request: ';
export const STREAM_DECODE_PREFIX = 'grpc: failed to unmarshal the received message ';

export interface DecodeStatus {
  code: number;
  message: string;
}

/** The status of a unary call whose request failed the check with `err`. */
export function unaryDecodeStatus(err: string): DecodeStatus {
  return { code: CODE_INTERNAL, message: UNARY_DECODE_PREFIX + err };
}

/** The status that ends a stream (bidi or server-streaming) whose received message failed with `err`. */
export function streamDecodeStatus(err: string): DecodeStatus {
  return { code: CODE_INTERNAL, message: STREAM_DECODE_PREFIX + err };
}

/**
 * grpc-go 1.33's answers (code, message) for requests whose framing is wrong, before any decoding,
 * as etcd 3.4.23 gives them. Unary and stream calls differ only for a cut-short message.
 */
export const framingStatus = {
  /** The body ends inside the 5-byte prefix or inside the message. Unary: UNKNOWN; streams: INTERNAL. */
  truncated: (stream: boolean): DecodeStatus => ({ code: stream ? 13 : 2, message: 'unexpected EOF' }),
  /** A unary or server-streaming call whose body holds no message at all (UNKNOWN). */
  noMessage: { code: 2, message: 'EOF' } as DecodeStatus,
  /** Compressed flag set without grpc-encoding, or with "identity". */
  compressedWithoutEncoding: {
    code: 13,
    message: 'grpc: compressed flag set with identity or empty encoding',
  } as DecodeStatus,
  /** Any grpc-encoding but identity (etcd 3.4 registers no decompressor, not even gzip): answered
   * before the body is read. */
  unsupportedEncoding: (name: string): DecodeStatus => ({
    code: 12,
    message: `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(name)}`,
  }),
  /** A prefix flag byte other than 0 and 1. */
  badPayloadFormat: (flag: number): DecodeStatus => ({
    code: 13,
    message: `grpc: received unexpected payload format ${flag}`,
  }),
  /** A prefix announcing more than the receive limit (etcd: --max-request-bytes + 512 KiB). */
  tooLarge: (length: number, max: number): DecodeStatus => ({
    code: 8,
    message: `grpc: received message larger than max (${length} vs. ${max})`,
  }),
  unknownService: (service: string): DecodeStatus => ({ code: 12, message: `unknown service ${service}` }),
  unknownMethod: (method: string, service: string): DecodeStatus => ({
    code: 12,
    message: `unknown method ${method} for service ${service}`,
  }),
  /** A :path with no "/" after the leading one (RESOURCE_EXHAUSTED, as grpc-go 1.33 answers). */
  malformedMethod: (path: string): DecodeStatus => ({
    code: 8,
    message: `malformed method name: ${JSON.stringify(path)}`,
  }),
};

/** Undefined when etcd would decode `bytes`, else the decoder's error text (unwrapped). */
export type WireChecker = (bytes: Uint8Array) => string | undefined;

// ---- gogo/protobuf (etcd's own messages) ----

const K_VARINT = 1;
const K_FIXED64 = 2;
const K_FIXED32 = 3;
const K_BYTES = 4;
const K_MESSAGE = 5;
const K_PACKED_VARINT = 6;
const K_PACKED_FIXED64 = 7;
const K_PACKED_FIXED32 = 8;

/** Wire type each kind expects (packed kinds: their element's own; 2 is accepted besides). */
const KIND_WIRE = [-1, 0, 1, 5, 2, 2, 0, 1, 5];

interface GogoTable {
  /** The message's name in its .proto, as the errors print it. */
  name: string;
  /** Field number -> slot + 1 (0: unknown), for numbers below its length. */
  dense: Uint16Array;
  /** Field number -> slot + 1 for numbers past `dense`. */
  sparse: Map<number, number> | undefined;
  kinds: Uint8Array;
  /** The wire type each field is written with (a packed run's elements' own). */
  wires: Uint8Array;
  goNames: string[];
  subs: (GogoTable | undefined)[];
}

const VARINT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool']);
const FIXED64_TYPES = new Set(['fixed64', 'sfixed64', 'double']);
const FIXED32_TYPES = new Set(['fixed32', 'sfixed32', 'float']);
const DENSE_LIMIT = 4096;

/** Go's generator.CamelCase (protoc-gen-gogo): "range_end" -> "RangeEnd", "a1b" -> "A1B". */
export function goCamelCase(s: string): string {
  if (s === '') return '';
  let out = '';
  let i = 0;
  const lower = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';
  if (s[0] === '_') {
    out += 'X';
    i++;
  }
  for (; i < s.length; i++) {
    let c = s[i]!;
    if (c === '_' && lower(s[i + 1])) continue;
    if (c >= '0' && c <= '9') {
      out += c;
      continue;
    }
    if (lower(c)) c = c.toUpperCase();
    out += c;
    while (lower(s[i + 1])) out += s[++i];
  }
  return out;
}

/** Go methods a generated struct has, which a field name must not shadow (gogo appends "_"). */
const GO_METHOD_NAMES = new Set([
  'Reset',
  'String',
  'ProtoMessage',
  'Marshal',
  'Unmarshal',
  'ExtensionRangeArray',
  'ExtensionMap',
  'Descriptor',
  'Size',
]);

/**
 * The field name gogo prints in "wrong wireType" errors: CamelCase of the .proto name, or its
 * (gogoproto.customname); members of a oneof use their own name too. protobufjs keeps names
 * camelCased ("rangeEnd"), and CamelCase of that equals CamelCase of the .proto's "range_end".
 */
function goFieldName(f: protobuf.Field): string {
  const custom = f.options?.['(gogoproto.customname)'];
  const name = typeof custom === 'string' ? custom : goCamelCase(f.name);
  return GO_METHOD_NAMES.has(name) ? name + '_' : name;
}

function fieldKind(f: protobuf.Field): number {
  if (f.map) throw new Error(`wire_check: map field ${f.fullName} is not supported`);
  f.resolve();
  const rt = f.resolvedType;
  let k: number;
  if (rt instanceof protobuf.Type) {
    if (f.delimited) throw new Error(`wire_check: group field ${f.fullName} is not supported`);
    return K_MESSAGE;
  } else if (rt instanceof protobuf.Enum || VARINT_TYPES.has(f.type)) k = K_VARINT;
  else if (FIXED64_TYPES.has(f.type)) k = K_FIXED64;
  else if (FIXED32_TYPES.has(f.type)) k = K_FIXED32;
  else if (f.type === 'string' || f.type === 'bytes') return K_BYTES;
  else throw new Error(`wire_check: field ${f.fullName} has unknown type ${f.type}`);
  if (!f.repeated) return k;
  return k === K_VARINT ? K_PACKED_VARINT : k === K_FIXED64 ? K_PACKED_FIXED64 : K_PACKED_FIXED32;
}

const tables = new WeakMap<protobuf.Type, GogoTable>();

function gogoTable(type: protobuf.Type): GogoTable {
  const cached = tables.get(type);
  if (cached) return cached;
  const fields = type.fieldsArray;
  let maxDense = 0;
  for (const f of fields) if (f.id < DENSE_LIMIT && f.id > maxDense) maxDense = f.id;
  const t: GogoTable = {
    name: type.name,
    dense: new Uint16Array(maxDense + 1),
    sparse: undefined,
    kinds: new Uint8Array(fields.length),
    wires: new Uint8Array(fields.length),
    goNames: [],
    subs: [],
  };
  tables.set(type, t); // before the sub-messages: types may refer to each other (Txn <-> RequestOp)
  fields.forEach((f, slot) => {
    if (f.id < DENSE_LIMIT) t.dense[f.id] = slot + 1;
    else (t.sparse ??= new Map()).set(f.id, slot + 1);
    const kind = fieldKind(f);
    t.kinds[slot] = kind;
    t.wires[slot] = KIND_WIRE[kind]!;
    t.goNames[slot] = goFieldName(f);
    t.subs[slot] = kind === K_MESSAGE ? gogoTable(f.resolvedType as protobuf.Type) : undefined;
  });
  return t;
}

const MAX_INT64 = (1n << 63n) - 1n;
/** Set by readLen: the length read, or LEN_WRAP. */
let lenVal = 0;
/** readLen's verdict when index + length passes int64's top: the index wraps negative in Go. */
const LEN_WRAP = -1;
// Negative results of the helpers below: error codes.
const R_EOF = -1;
const R_OVERFLOW = -2;
const R_INVALID_LENGTH = -3;
const R_ILLEGAL_WIRE6 = -6;
const R_ILLEGAL_WIRE7 = -7;

function errorText(r: number): string {
  switch (r) {
    case R_EOF:
      return ERR_UNEXPECTED_EOF;
    case R_OVERFLOW:
      return ERR_INT_OVERFLOW;
    case R_INVALID_LENGTH:
      return ERR_INVALID_LENGTH;
    default:
      return `proto: illegal wireType ${-r}`;
  }
}

/** Index after the varint at i, or R_OVERFLOW (an 11th byte) / R_EOF. */
function skipVarint(buf: Uint8Array, i: number, end: number): number {
  for (let k = 0; ; k++) {
    if (k === 10) return R_OVERFLOW;
    if (i >= end) return R_EOF;
    if (buf[i++]! < 0x80) return i;
  }
}

/**
 * Reads a length (a Go int) at i: the index after it, or an error code. lenVal gets the length, or
 * LEN_WRAP when the index after the varint, counted from `origin`, plus the length overflows int64.
 */
function readLen(buf: Uint8Array, i: number, end: number, origin: number): number {
  const start = i;
  let v = 0;
  let mul = 1;
  let k = 0;
  for (;;) {
    if (k === 10) return R_OVERFLOW;
    if (i >= end) return R_EOF;
    const b = buf[i++]!;
    if (k < 7) v += (b & 0x7f) * mul;
    mul *= 128;
    k++;
    if (b < 0x80) break;
  }
  if (k <= 7) {
    lenVal = v;
    return i;
  }
  // 8 to 10 bytes: the value may pass 2^53 and int64's sign bit; rare enough for BigInt.
  let x = 0n;
  for (let j = start, s = 0n; j < i; j++, s += 7n) x |= BigInt(buf[j]! & 0x7f) << s;
  const n = BigInt.asIntN(64, x);
  if (n < 0n) return R_INVALID_LENGTH;
  lenVal = BigInt(i - origin) + n > MAX_INT64 ? LEN_WRAP : Number(n);
  return i;
}

/** Wire type set by readTagWire. */
let tagWire = 0;

/** Reads a tag at i for its wire type only (inside a skipped group): the index after it, or an error. */
function readTagWire(buf: Uint8Array, i: number, end: number): number {
  if (i >= end) return R_EOF;
  const first = buf[i]!;
  tagWire = first & 7;
  if (first < 0x80) return i + 1;
  return skipVarint(buf, i, end);
}

/**
 * Skips the unknown field whose value starts at i (its tag, of wire type wt, started at pre): the
 * index after it, or an error code. `base` is where the enclosing message starts.
 */
function skipUnknown(buf: Uint8Array, pre: number, i: number, wt: number, end: number, base: number): number {
  switch (wt) {
    case 0:
      return skipVarint(buf, i, end);
    case 1:
      return i + 8 > end ? R_EOF : i + 8;
    case 5:
      return i + 4 > end ? R_EOF : i + 4;
    case 2: {
      // The skip function returns (i - pre) + length and the caller adds (pre - base): either
      // overflowing int64 ends in a negative length error or a Go panic; both are answered here as
      // the error, and counting from base covers both.
      const j = readLen(buf, i, end, base);
      if (j < 0) return j;
      if (lenVal === LEN_WRAP) return R_INVALID_LENGTH;
      return j + lenVal > end ? R_EOF : j + lenVal;
    }
    case 3:
      return skipGroup(buf, pre, i, end);
    case 6:
      return R_ILLEGAL_WIRE6;
    default:
      return R_ILLEGAL_WIRE7;
  }
}

/** Skips a group's contents from i (after its start tag) up to and including the end tag that closes it. */
function skipGroup(buf: Uint8Array, pre: number, i: number, end: number): number {
  let depth = 1;
  for (;;) {
    i = readTagWire(buf, i, end);
    if (i < 0) return i;
    switch (tagWire) {
      case 4:
        if (--depth === 0) return i;
        break;
      case 3:
        depth++;
        break;
      case 0:
        i = skipVarint(buf, i, end);
        if (i < 0) return i;
        break;
      // Fixed sizes and lengths are not checked here: the next tag read finds the end.
      case 1:
        i += 8;
        break;
      case 5:
        i += 4;
        break;
      case 2: {
        const j = readLen(buf, i, end, pre);
        if (j < 0) return j;
        if (lenVal === LEN_WRAP) return R_INVALID_LENGTH; // etcd 3.4 panics (negative index)
        i = j + lenVal;
        break;
      }
      case 6:
        return R_ILLEGAL_WIRE6;
      default:
        return R_ILLEGAL_WIRE7;
    }
  }
}

/** The whole tag at [from, to) as the unsigned decimal Go prints (bits past 64 dropped). */
function tagDecimal(buf: Uint8Array, from: number, to: number): string {
  let x = 0n;
  for (let j = from, s = 0n; j < to; j++, s += 7n) x |= BigInt(buf[j]! & 0x7f) << s;
  return BigInt.asUintN(64, x).toString();
}

// The nesting of messages being checked, kept outside the call stack so that deep nesting (a Txn in
// a Txn in a Txn ...) cannot overflow it. The checker never re-enters itself, so one set is shared.
const stackTable: GogoTable[] = [];
const stackEnd: number[] = [];
const stackBase: number[] = [];

function gogoCheck(root: GogoTable, buf: Uint8Array): string | undefined {
  let t = root;
  let end = buf.length;
  let base = 0;
  let sp = 0;
  let i = 0;
  for (;;) {
    if (i >= end) {
      if (sp === 0) return undefined;
      sp--;
      t = stackTable[sp]!;
      end = stackEnd[sp]!;
      base = stackBase[sp]!;
      continue;
    }
    const pre = i;
    let b = buf[i]!;
    let wt: number;
    let num: number;
    if (b < 0x80) {
      i++;
      wt = b & 7;
      num = b >>> 3;
    } else {
      // Field number = int32(tag >> 3): bits 3..34, all within the first 5 bytes.
      let lo = 0;
      let mul = 1;
      for (let k = 0; ; k++) {
        if (k === 10) return ERR_INT_OVERFLOW;
        if (i >= end) return ERR_UNEXPECTED_EOF;
        b = buf[i++]!;
        if (k < 5) lo += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) break;
      }
      wt = lo % 8;
      num = Math.floor(lo / 8) | 0;
    }
    if (wt === 4) return `proto: ${t.name}: wiretype end group for non-group`;
    if (num <= 0) return `proto: ${t.name}: illegal tag ${num} (wire type ${tagDecimal(buf, pre, i)})`;
    const slot1 = num < t.dense.length ? t.dense[num]! : (t.sparse?.get(num) ?? 0);
    if (slot1 === 0) {
      i = skipUnknown(buf, pre, i, wt, end, base);
      if (i < 0) return errorText(i);
      continue;
    }
    const slot = slot1 - 1;
    const kind = t.kinds[slot]!;
    if (wt !== t.wires[slot] && !(wt === 2 && kind >= K_PACKED_VARINT)) {
      return `proto: wrong wireType = ${wt} for field ${t.goNames[slot]}`;
    }
    // The wire type is the field's own now (or 2 for a packed run).
    if (wt === 0) {
      if (i < end && buf[i]! < 0x80) i++;
      else {
        i = skipVarint(buf, i, end);
        if (i < 0) return errorText(i);
      }
    } else if (wt === 2) {
      let len: number;
      if (i < end && buf[i]! < 0x80) len = buf[i++]!;
      else {
        i = readLen(buf, i, end, base);
        if (i < 0) return errorText(i);
        if (lenVal === LEN_WRAP) {
          if (kind >= K_PACKED_VARINT) continue; // Go: postIndex < 0, the element loop never runs
          return ERR_INVALID_LENGTH; // etcd 3.4 panics here
        }
        len = lenVal;
      }
      const post = i + len;
      if (post > end) return ERR_UNEXPECTED_EOF;
      if (kind === K_MESSAGE) {
        if (post > i) {
          stackTable[sp] = t;
          stackEnd[sp] = end;
          stackBase[sp] = base;
          sp++;
          t = t.subs[slot]!;
          base = i;
          end = post;
        }
      } else if (kind === K_BYTES) i = post;
      else if (kind === K_PACKED_VARINT) {
        // Elements are bounded by the message's end, not the run's: the last may run past it.
        while (i < post) {
          i = skipVarint(buf, i, end);
          if (i < 0) return errorText(i);
        }
      } else {
        const size = kind === K_PACKED_FIXED32 ? 4 : 8;
        while (i < post) {
          if (i + size > end) return ERR_UNEXPECTED_EOF;
          i += size;
        }
      }
    } else {
      const size = wt === 1 ? 8 : 4;
      if (i + size > end) return ERR_UNEXPECTED_EOF;
      i += size;
    }
  }
}

/** A checker for `type` as etcd 3.4's gogo-generated Unmarshal decodes it; build once per method. */
export function gogoWireChecker(type: protobuf.Type): WireChecker {
  const t = gogoTable(type);
  return (bytes) => gogoCheck(t, bytes);
}

/** gogoWireChecker(type)(bytes), with the table cached per type. */
export function wireCheck(type: protobuf.Type, bytes: Uint8Array): string | undefined {
  return gogoCheck(gogoTable(type), bytes);
}

// ---- golang/protobuf 1.3 (grpc.health.v1) ----

let v1Val = 0;

/** golang/protobuf's decodeVarint: at most 10 bytes, the 10th below 2; the index after it or -1. */
function v1Varint(buf: Uint8Array, i: number, end: number): number {
  const start = i;
  let v = 0;
  let mul = 1;
  for (let k = 0; ; k++) {
    if (i >= end) return -1;
    const b = buf[i++]!;
    if (k === 9) {
      if (b >= 2) return -1;
    } else if (k < 7) v += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      if (k < 7) v1Val = v;
      else {
        let x = 0n;
        for (let j = start, s = 0n; j < i; j++, s += 7n) x |= BigInt(buf[j]! & 0x7f) << s;
        v1Val = Number(BigInt.asUintN(64, x));
      }
      return i;
    }
  }
}

/** findEndGroup: the index after the end tag closing the group whose contents start at i, or -1. */
function v1SkipGroup(buf: Uint8Array, i: number, end: number): number {
  let depth = 1;
  for (;;) {
    const wt = i < end ? buf[i]! & 7 : 0;
    i = v1Varint(buf, i, end);
    if (i < 0) return -1;
    switch (wt) {
      case 0:
        i = v1Varint(buf, i, end);
        if (i < 0) return -1;
        break;
      case 5:
        if (end - 4 < i) return -1;
        i += 4;
        break;
      case 1:
        if (end - 8 < i) return -1;
        i += 8;
        break;
      case 2:
        i = v1Varint(buf, i, end);
        if (i < 0 || end - i < v1Val) return -1;
        i += v1Val;
        break;
      case 3:
        depth++;
        break;
      case 4:
        if (--depth === 0) return i;
        break;
      default:
        return -1;
    }
  }
}

interface V1Field {
  kind: number;
  /** proto3 string: checked for UTF-8 (the error is reported after the whole message parsed). */
  utf8: boolean;
  protoName: string;
}

/**
 * A checker for a flat message (scalar, string and bytes fields) decoded by golang/protobuf 1.3's
 * table-driven unmarshal, as etcd's build does grpc.health.v1.HealthCheckRequest:
 * field 0 -> "proto: <goType>: illegal tag 0 (wire type <wt>)"; a known field with another wire type
 * is skipped as unknown; skipping wire types 4, 6, 7 -> "proto: can't skip unknown wire type <wt>";
 * every other malformation (truncation, a bad length, an unterminated group, a varint of more than
 * 10 bytes) -> "unexpected EOF"; a proto3 string that is not UTF-8 ->
 * `proto: field "<full name>.<field>" contains invalid UTF-8` unless a later error comes first.
 */
export function goprotoV1WireChecker(type: protobuf.Type, goTypeName: string, proto3 = true): WireChecker {
  const fields = new Map<number, V1Field>();
  for (const f of type.fieldsArray) {
    const kind = fieldKind(f);
    if (kind === K_MESSAGE || kind >= K_PACKED_VARINT)
      throw new Error(`wire_check: ${f.fullName}: only flat messages are supported`);
    fields.set(f.id, { kind, utf8: proto3 && f.type === 'string', protoName: f.name });
  }
  const fullName = type.fullName.replace(/^\./, '');
  return (buf) => {
    const end = buf.length;
    let i = 0;
    let later: string | undefined;
    while (i < end) {
      const wt = buf[i]! & 7;
      i = v1Varint(buf, i, end);
      if (i < 0) return ERR_UNEXPECTED_EOF;
      const num = Math.floor(v1Val / 8);
      if (num === 0) return `proto: ${goTypeName}: illegal tag 0 (wire type ${wt})`;
      const f = fields.get(num);
      if (f && wt === KIND_WIRE[f.kind]) {
        if (f.kind === K_VARINT) {
          i = v1Varint(buf, i, end);
          if (i < 0) return ERR_UNEXPECTED_EOF;
        } else if (f.kind === K_BYTES) {
          i = v1Varint(buf, i, end);
          if (i < 0 || v1Val > end - i) return ERR_UNEXPECTED_EOF;
          const post = i + v1Val;
          if (f.utf8 && later === undefined && !isUtf8(buf.subarray(i, post)))
            later = `proto: field ${JSON.stringify(`${fullName}.${f.protoName}`)} contains invalid UTF-8`;
          i = post;
        } else {
          const size = f.kind === K_FIXED64 ? 8 : 4;
          if (end - i < size) return ERR_UNEXPECTED_EOF;
          i += size;
        }
        continue;
      }
      // Unknown, or a known field with another wire type: skipped.
      switch (wt) {
        case 0:
          i = v1Varint(buf, i, end);
          if (i < 0) return ERR_UNEXPECTED_EOF;
          break;
        case 1:
        case 5: {
          const size = wt === 1 ? 8 : 4;
          if (end - i < size) return ERR_UNEXPECTED_EOF;
          i += size;
          break;
        }
        case 2:
          i = v1Varint(buf, i, end);
          if (i < 0 || end - i < v1Val) return ERR_UNEXPECTED_EOF;
          i += v1Val;
          break;
        case 3:
          i = v1SkipGroup(buf, i, end);
          if (i < 0) return ERR_UNEXPECTED_EOF;
          break;
        default:
          return `proto: can't skip unknown wire type ${wt}`;
      }
    }
    return later;
  };
}

/** grpc.health.v1.HealthCheckRequest {string service = 1}: tetcd has no .proto for it. */
export const HEALTH_CHECK_REQUEST: protobuf.Type = (() => {
  const t = new protobuf.Type('HealthCheckRequest').add(new protobuf.Field('service', 1, 'string'));
  const root = new protobuf.Root();
  root.define('grpc.health.v1').add(t);
  root.resolveAll();
  return t;
})();

/** The check for Health.Check and Health.Watch requests, as etcd 3.4.23's build decodes them. */
export const checkHealthCheckRequest: WireChecker = goprotoV1WireChecker(
  HEALTH_CHECK_REQUEST,
  'grpc_health_v1.HealthCheckRequest',
);
