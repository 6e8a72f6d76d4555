// grpc-gateway's JSON mapping as etcd 3.4 configures it (runtime.JSONPb{OrigName: true}, golang/
// protobuf 1.3's jsonpb): proto field names, 64-bit integers as strings, bytes as base64, enums by
// name, fields holding their default value left out (a message that is present is written, even
// empty, as {}), unknown fields ignored (etcd 3.4 never calls DisallowUnknownFields). Requests accept
// both a field's proto name and its lowerCamel JSON name, integers as numbers or quoted, and fail
// with the texts of Go's encoding/json and jsonpb.
//
// The messages are the .proto files loaded again with their own field names (keepCase), so the
// names on the wire of JSON are the ones etcd's proto declares (`create_revision`, `grantedTTL`).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { Long, PROTO_FILES } from '../../proto/index.ts';
import { JsonNumber, JsonSyntaxError, parseWhole, type JsonValue } from './json_scan.ts';

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'proto');

let named: protobuf.Root | undefined;

/** The .proto files with their declared field names (loaded once, on first use). */
function namedRoot(): protobuf.Root {
  if (named === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin: string, target: string) => join(PROTO_DIR, target);
    r.loadSync(PROTO_FILES, { keepCase: true });
    r.resolveAll();
    named = r;
  }
  return named;
}

export function namedType(fullName: string): protobuf.Type {
  return namedRoot().lookupType(fullName);
}

/** A request body jsonpb refuses; `message` is Go's text. */
export class JsonpbError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonpbError';
  }
}

/** protoc's json_name: underscores dropped, the letter after each one upper-cased. */
export function jsonName(name: string): string {
  return name.replace(/_(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase());
}

/** The name Go gives an enum type of the .proto (`etcdserverpb.RangeRequest_SortOrder`). */
function goEnumName(e: protobuf.Enum): string {
  const parts: string[] = [];
  let p: protobuf.ReflectionObject | null = e;
  while (p !== null && !(p instanceof protobuf.Namespace && !(p instanceof protobuf.Type))) {
    parts.unshift(p.name);
    p = p.parent;
  }
  const pkg = p !== null && p.name !== '' ? p.fullName.slice(1) + '.' : '';
  return pkg + parts.join('_');
}

const INT_TYPES: Record<string, { go: string; min: bigint; max: bigint; long: boolean; unsigned: boolean }> =
  {
    int64: { go: 'int64', min: -(2n ** 63n), max: 2n ** 63n - 1n, long: true, unsigned: false },
    sint64: { go: 'int64', min: -(2n ** 63n), max: 2n ** 63n - 1n, long: true, unsigned: false },
    sfixed64: { go: 'int64', min: -(2n ** 63n), max: 2n ** 63n - 1n, long: true, unsigned: false },
    uint64: { go: 'uint64', min: 0n, max: 2n ** 64n - 1n, long: true, unsigned: true },
    fixed64: { go: 'uint64', min: 0n, max: 2n ** 64n - 1n, long: true, unsigned: true },
    int32: { go: 'int32', min: -(2n ** 31n), max: 2n ** 31n - 1n, long: false, unsigned: false },
    sint32: { go: 'int32', min: -(2n ** 31n), max: 2n ** 31n - 1n, long: false, unsigned: false },
    sfixed32: { go: 'int32', min: -(2n ** 31n), max: 2n ** 31n - 1n, long: false, unsigned: false },
    uint32: { go: 'uint32', min: 0n, max: 2n ** 32n - 1n, long: false, unsigned: true },
    fixed32: { go: 'uint32', min: 0n, max: 2n ** 32n - 1n, long: false, unsigned: true },
  };

/** encoding/json's name for the kind of a JSON value in "cannot unmarshal X into ...". */
function kindOf(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return 'number';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

const cannot = (v: JsonValue, goType: string) =>
  new JsonpbError(`json: cannot unmarshal ${kindOf(v)} into Go value of type ${goType}`);

/** An integer of a JSON number's text, or undefined when it is not one Go parses (1.5, 1e3). */
function integer(text: string): bigint | undefined {
  return /^-?\d+$/.test(text) ? BigInt(text) : undefined;
}

function intValue(v: JsonValue, t: string, goType: string): Long | number {
  const spec = INT_TYPES[t]!;
  // jsonpb strips the quotes of a quoted integer and reads what was inside as JSON.
  if (typeof v === 'string') v = parseWhole(v);
  if (!(v instanceof JsonNumber)) throw cannot(v, goType);
  const n = integer(v.text);
  if (n === undefined || n < spec.min || n > spec.max) {
    throw new JsonpbError(`json: cannot unmarshal number ${v.text} into Go value of type ${goType}`);
  }
  return spec.long ? Long.fromString(n.toString(), spec.unsigned) : Number(n);
}

/** Go's base64.StdEncoding.DecodeString, failing at the same byte with the same text. */
export function base64Std(s: string): Buffer {
  const alphabet = /[A-Za-z0-9+/]/;
  const corrupt = (at: number) => new JsonpbError(`illegal base64 data at input byte ${at}`);
  const nl = (c: string | undefined) => c === '\n' || c === '\r';
  let si = 0;
  const chars: string[] = [];
  for (;;) {
    let j = 0;
    for (; j < 4; j++) {
      if (si === s.length) {
        if (j === 0) return Buffer.from(chars.join(''), 'base64');
        throw corrupt(si - j);
      }
      const c = s[si++]!;
      if (alphabet.test(c)) {
        chars.push(c);
        continue;
      }
      if (nl(c)) {
        j--;
        continue;
      }
      if (c !== '=' || j < 2) throw corrupt(si - 1);
      if (j === 2) {
        while (si < s.length && nl(s[si])) si++;
        if (si === s.length) throw corrupt(s.length);
        if (s[si] !== '=') throw corrupt(si - 1);
        si++;
      }
      while (si < s.length && nl(s[si])) si++;
      if (si < s.length) throw corrupt(si);
      return Buffer.from(chars.join(''), 'base64');
    }
  }
}

function scalar(v: JsonValue, f: protobuf.Field): unknown {
  if (f.resolvedType instanceof protobuf.Enum) {
    const e = f.resolvedType;
    const goType = goEnumName(e);
    if (typeof v === 'string') {
      // Enum.values falls back to valuesById through its prototype: only own names count.
      const n = Object.prototype.hasOwnProperty.call(e.values, v) ? e.values[v] : undefined;
      if (n === undefined) throw new JsonpbError(`unknown value ${JSON.stringify(v)} for enum ${goType}`);
      return n;
    }
    return intValue(v, 'int32', goType);
  }
  if (f.resolvedType instanceof protobuf.Type) return message(v, f.resolvedType);
  switch (f.type) {
    case 'bool':
      if (typeof v !== 'boolean') throw cannot(v, 'bool');
      return v;
    case 'string':
      if (typeof v !== 'string') throw cannot(v, 'string');
      return v;
    case 'bytes':
      if (typeof v === 'string') return base64Std(v);
      if (Array.isArray(v)) return Buffer.from(v.map((x) => intValue(x, 'uint32', 'uint8') as number));
      throw cannot(v, '[]uint8');
    case 'double':
    case 'float':
      if (!(v instanceof JsonNumber)) throw cannot(v, f.type === 'double' ? 'float64' : 'float32');
      return Number(v.text);
    default:
      if (INT_TYPES[f.type] !== undefined) return intValue(v, f.type, INT_TYPES[f.type]!.go);
      throw new Error(`gateway: field type ${f.type} has no JSON mapping`);
  }
}

/**
 * The message of `type` a JSON value holds, as an object protobufjs encodes (keys are the .proto's
 * names): jsonpb's rules and error texts. `null` anywhere means "not set".
 */
export function message(v: JsonValue, type: protobuf.Type): Record<string, unknown> {
  if (v === null) return {};
  if (!(v instanceof Map)) throw cannot(v, 'map[string]json.RawMessage');
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray) {
    let x: JsonValue | undefined = v.get(f.name);
    if (x === undefined) x = v.get(jsonName(f.name));
    if (x === undefined || x === null) continue;
    if (f.repeated) {
      if (!Array.isArray(x)) throw cannot(x, '[]json.RawMessage');
      out[f.name] = x.map((e) => (e === null && f.resolvedType instanceof protobuf.Type ? {} : scalar(e, f)));
    } else out[f.name] = scalar(x, f);
  }
  // A oneof holds one member: the last one of the body that the .proto declares wins.
  for (const o of type.oneofsArray) {
    const set = o.fieldsArray.filter((f) => out[f.name] !== undefined);
    for (const f of set.slice(0, -1)) delete out[f.name];
  }
  return out;
}

/** The request bytes of a JSON value for `type`. */
export function encodeRequest(v: JsonValue, type: protobuf.Type): Uint8Array {
  return type.encode(message(v, type)).finish();
}

export { JsonSyntaxError };

// ---- responses ----

/** A string as Go's encoding/json writes it (HTML characters and U+2028/2029 escaped). */
export function goString(s: string): string {
  return JSON.stringify(s)
    .replace(/\\([\s\S])/g, (m, c: string) => (c === 'b' ? '\\u0008' : c === 'f' ? '\\u000c' : m))
    .replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function isZero(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string') return v.length === 0;
  if (v instanceof Uint8Array || Array.isArray(v)) return v.length === 0;
  if (Long.isLong(v)) return (v as Long).isZero();
  return false;
}

function scalarJson(v: unknown, f: protobuf.Field): string {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return messageJson(v as protobuf.Message, t);
  if (t instanceof protobuf.Enum) {
    const name = t.valuesById[v as number];
    return goString(name ?? String(v));
  }
  if (typeof v === 'string') return goString(v);
  if (v instanceof Uint8Array) return `"${Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64')}"`;
  if (Array.isArray(v)) return `"${Buffer.from(v as number[]).toString('base64')}"`;
  if (Long.isLong(v)) return `"${(v as Long).toString()}"`;
  if (typeof v === 'number') return INT_TYPES[f.type]?.long ? `"${v}"` : String(v);
  return String(v);
}

/** A decoded message (or plain object with the .proto's names) as jsonpb writes it. */
export function messageJson(m: protobuf.Message | Record<string, unknown>, type: protobuf.Type): string {
  const rec = m as Record<string, unknown>;
  const parts: string[] = [];
  for (const f of type.fieldsArray) {
    const v = rec[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      const a = v as unknown[];
      if (a.length === 0) continue;
      parts.push(`${goString(f.name)}:[${a.map((e) => scalarJson(e, f)).join(',')}]`);
      continue;
    }
    // A oneof member is written even when it holds a zero value (it is set); other scalars are not.
    if (f.partOf === null && !(f.resolvedType instanceof protobuf.Type) && isZero(v)) continue;
    if (f.partOf !== null && !Object.prototype.hasOwnProperty.call(rec, f.name)) continue;
    parts.push(`${goString(f.name)}:${scalarJson(v, f)}`);
  }
  return `{${parts.join(',')}}`;
}

export { JsonNumber };
