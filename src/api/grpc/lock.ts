// v3lockpb.Lock: decode, run the lock semantics of v3lock.ts, fill the response header.
import type { RaftStatus } from '../../server/api.ts';
import { CoordKV, type CoordMember } from './v3concurrency.ts';
import { V3Lock } from './v3lock.ts';
import { asBuf, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { coordUnary } from './coord_handler.ts';
import { unary, type ServiceImpl } from './router.ts';

export interface CoordService {
  impl: ServiceImpl;
  /** Ends every call still waiting (and its watchers). */
  close(): void;
}

export function lockService(member: CoordMember, status: RaftStatus): CoordService {
  const t = requestTypes('v3lockpb.Lock');
  const kv = new CoordKV(member);
  const lock = new V3Lock(kv);
  const impl: ServiceImpl = {
    Lock: unary(
      coordUnary(kv, async (raw, signal) => {
        const req = decode<{ name: Uint8Array; lease: Int64 }>(t['Lock']!, raw);
        const r = await lock.lock(asBuf(req.name), toBigInt(req.lease), signal);
        return { header: status.header(r.header), key: r.key };
      }),
    ),
    Unlock: unary(
      coordUnary(kv, async (raw) => {
        const req = decode<{ key: Uint8Array }>(t['Unlock']!, raw);
        const r = await lock.unlock(asBuf(req.key));
        return { header: status.header(r.header) };
      }),
    ),
  };
  return { impl, close: () => kv.close() };
}
