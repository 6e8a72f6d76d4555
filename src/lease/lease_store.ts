// Leases in the backend's lease bucket (key: 8-byte big-endian ID; value: leasepb.Lease). Writes join
// the backend batch of the entry being applied, so they commit atomically with its applied index.
import type { Backend } from '../backend/backend.ts';
import type { LeaseStore } from './lessor.ts';
import { fromBigInt, messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';

const LeasePb = messageType('leasepb.Lease');

function idKey(id: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, id));
  return b;
}

export function backendLeaseStore(backend: Backend): LeaseStore {
  return {
    save: (l) =>
      backend.put(
        'lease',
        idKey(l.id),
        Buffer.from(
          LeasePb.encode({ ID: fromBigInt(l.id), TTL: l.ttl, RemainingTTL: l.remainingTtl }).finish(),
        ),
      ),
    remove: (id) => backend.del('lease', idKey(id)),
  };
}

/** Every persisted lease, for the lessor to restore at startup. */
export function loadLeases(backend: Backend): { id: bigint; ttl: number; remainingTtl: number }[] {
  const out: { id: bigint; ttl: number; remainingTtl: number }[] = [];
  backend.forEach('lease', undefined, undefined, (_k: Uint8Array, v: Uint8Array) => {
    const m = LeasePb.decode(v) as unknown as { ID: Int64; TTL: Int64; RemainingTTL: Int64 };
    out.push({ id: toBigInt(m.ID), ttl: toNumber(m.TTL), remainingTtl: toNumber(m.RemainingTTL) });
  });
  return out;
}
