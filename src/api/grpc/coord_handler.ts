// Handlers for the Lock and Election services. etcd 3.4 serves both through an in-process client,
// which strips the gRPC code off every error: clients get code Unknown and the bare message (so
// "election: not leader", and also "etcdserver: requested lease not found"). A call cancelled by its
// client aborts its waits; a call still waiting when the server closes ends as Unavailable.
import type { Logger } from 'pino';
import type { CoordKV } from './v3concurrency.ts';
import { CoordError } from './v3concurrency.ts';
import { ErrStopped } from '../../server/errors.ts';
import { UnmarshalError, toStatus } from './errors.ts';
import { Code, StatusError } from './status.ts';
import type { CallContext } from './call.ts';
import type { ErrorMap, Response, UnaryFn } from './router.ts';

export function coordErrors(log: Logger): ErrorMap {
  return (err, method) => {
    if (err instanceof CoordError) return { code: Code.UNKNOWN, details: err.message };
    const s = toStatus(err);
    // Decoding and framing fail in gRPC itself, before the in-process client: their codes stay.
    if (err instanceof ErrStopped || err instanceof StatusError || err instanceof UnmarshalError) {
      return { code: s.code, details: s.details };
    }
    if (s.unknown) log.error({ method, err }, 'request failed with an unexpected error');
    return { code: Code.UNKNOWN, details: s.details };
  };
}

/**
 * Runs `fn` with a signal of the coordination store's: aborted when the client cancels (or its
 * deadline passes) and when the service closes.
 */
export function withCoordSignal<T>(
  kv: CoordKV,
  ctx: CallContext,
  fn: (signal: AbortSignal) => T | Promise<T>,
): Promise<T> {
  const c = kv.begin();
  const onAbort = () => c.cancel();
  ctx.signal.addEventListener('abort', onAbort);
  return new Promise<T>((resolve) => resolve(fn(c.signal))).finally(() => {
    c.done();
    ctx.signal.removeEventListener('abort', onAbort);
  });
}

export type CoordFn = (raw: Buffer, signal: AbortSignal) => Response | Promise<Response>;

export function coordUnary(kv: CoordKV, fn: CoordFn): UnaryFn {
  return (raw, ctx) => withCoordSignal(kv, ctx, (signal) => kv.asCaller(ctx, () => fn(raw, signal)));
}
