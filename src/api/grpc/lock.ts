// v3lockpb.Lock: decode, run the lock semantics of v3lock.ts, fill the response header.
import type { EtcdServer } from '../../server/server.ts';
import { CoordKV } from './v3concurrency.ts';
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

export function lockService(srv: EtcdServer): CoordService {
  const t = requestTypes('v3lockpb.Lock');
  const kv = new CoordKV(srv);
  const lock = new V3Lock(kv);
  const impl: ServiceImpl = {
    Lock: unary(
      coordUnary(kv, async (raw, signal) => {
        const req = decode<{ name: Uint8Array; lease: Int64 }>(t['Lock']!, raw);
        const r = await lock.lock(asBuf(req.name), toBigInt(req.lease), signal);
        return { header: srv.header(r.header), key: r.key };
      }),
    ),
    Unlock: unary(
      coordUnary(kv, async (raw) => {
        const req = decode<{ key: Uint8Array }>(t['Unlock']!, raw);
        const r = await lock.unlock(asBuf(req.key));
        return { header: srv.header(r.header) };
      }),
    ),
  };
  return { impl, close: () => kv.close() };
}
