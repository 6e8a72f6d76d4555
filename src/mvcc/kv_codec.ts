// mvccpb.KeyValue as stored in the key bucket (protobuf, etcd's field numbers). Lease IDs are bigint.
import { fromBigInt, messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';

export interface KeyValue {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  lease: bigint;
}

const KV = messageType('mvccpb.KeyValue');
const EMPTY = Buffer.alloc(0);

export function encodeKeyValue(kv: KeyValue): Buffer {
  const m: Record<string, unknown> = {
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (kv.value.length) m['value'] = kv.value;
  if (kv.lease !== 0n) m['lease'] = fromBigInt(kv.lease);
  return Buffer.from(KV.encode(m).finish());
}

export function decodeKeyValue(b: Uint8Array): KeyValue {
  const m = KV.decode(b) as unknown as {
    key: Buffer;
    createRevision: Int64;
    modRevision: Int64;
    version: Int64;
    value: Buffer;
    lease: Int64;
  };
  return {
    key: m.key.length ? Buffer.from(m.key) : EMPTY,
    createRevision: toNumber(m.createRevision),
    modRevision: toNumber(m.modRevision),
    version: toNumber(m.version),
    value: m.value.length ? Buffer.from(m.value) : EMPTY,
    lease: toBigInt(m.lease),
  };
}
