// Loads the .proto files under proto/ once and exposes message types and the 64-bit helpers.
// protobufjs builds its encoders/decoders at load time (the same code its static generator emits),
// so there is no generated source to keep in the repository.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import Long from 'long';

protobuf.util.Long = Long;
protobuf.configure();

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');

export const PROTO_FILES = [
  'mvccpb/kv.proto',
  'authpb/auth.proto',
  'etcdserverpb/rpc.proto',
  'etcdserverpb/raft_internal.proto',
  'leasepb/lease.proto',
  'v3lockpb/v3lock.proto',
  'v3electionpb/v3election.proto',
];

export const root = new protobuf.Root();
root.resolvePath = (_origin: string, target: string) => join(PROTO_DIR, target);
root.loadSync(PROTO_FILES, { keepCase: false });
root.resolveAll();

export type MessageType = protobuf.Type;
export type ServiceType = protobuf.Service;

export function messageType(fullName: string): protobuf.Type {
  return root.lookupType(fullName);
}

export function serviceType(fullName: string): protobuf.Service {
  return root.lookupService(fullName);
}

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A decoded int64 field: protobufjs yields Long (or number for small values on some paths). */
export type Int64 = Long | number;

/** int64 -> number; throws RangeError past 2^53-1 (the caller turns it into a client error). */
export function toNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (v.high > 0x1fffff || v.high < -0x200000) throw new RangeError('value exceeds 2^53-1');
  return v.toNumber();
}

/** int64/uint64 -> bigint, lossless (IDs). */
export function toBigInt(v: Int64 | null | undefined, unsigned = false): bigint {
  if (v === null || v === undefined) return 0n;
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  const hi = BigInt(v.high >>> 0);
  const u = (hi << 32n) | lo;
  return unsigned || !(v.high < 0) || v.unsigned ? u : u - (1n << 64n);
}

/** bigint -> Long for encoding (protobufjs does not take bigint). */
export function fromBigInt(v: bigint, unsigned = false): Long {
  const u = BigInt.asUintN(64, v);
  return Long.fromBits(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, unsigned);
}

/** int64 -> number, saturating at +-(2^53-1): a revision past that is simply "in the future". */
export function sat(v: Int64 | null | undefined): number {
  try {
    return toNumber(v);
  } catch {
    return typeof v === 'object' && v !== null && v.high < 0
      ? -Number.MAX_SAFE_INTEGER
      : Number.MAX_SAFE_INTEGER;
  }
}

/**
 * A bytes field as a Buffer. Fields absent on the wire decode to protobufjs's default, a plain empty
 * array (Go clients omit empty values), so anything array-like is accepted.
 */
export const asBuf = (b: Uint8Array | readonly number[]): Buffer =>
  Buffer.isBuffer(b)
    ? b
    : b instanceof Uint8Array
      ? Buffer.from(b.buffer, b.byteOffset, b.byteLength)
      : Buffer.from(b as readonly number[]);

export { Long };
