// Unary handlers for the Lock and Election services. etcd 3.4 serves both through an in-process
// client, which strips the gRPC code off every error: clients get code Unknown and the bare message
// (so "election: not leader", and also "etcdserver: requested lease not found"). A call cancelled by
// its client aborts its waits; a call still waiting when the server closes ends as Unavailable.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CoordKV } from '../../server/v3concurrency.ts';
import { CoordError } from '../../server/v3concurrency.ts';
import { ErrStopped } from '../../server/errors.ts';
import { toStatus } from './errors.ts';

export function coordStatus(log: Logger, method: string, err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof CoordError) return { code: grpc.status.UNKNOWN, details: err.message };
  const s = toStatus(err);
  if (err instanceof ErrStopped) return { code: s.code, details: s.details };
  if (s.unknown) log.error({ method, err }, 'request failed with an unexpected error');
  return { code: grpc.status.UNKNOWN, details: s.details };
}

export type CoordFn = (raw: Buffer, signal: AbortSignal) => object | Promise<object>;

export function coordUnary(
  kv: CoordKV,
  log: Logger,
  method: string,
  fn: CoordFn,
): grpc.handleUnaryCall<Buffer, object> {
  return (call, callback) => {
    const c = kv.begin();
    call.on('cancelled', c.cancel);
    new Promise<object>((resolve) => resolve(fn(call.request, c.signal)))
      .then(
        (v) => callback(null, v),
        (err: unknown) => callback(coordStatus(log, method, err)),
      )
      .finally(() => {
        c.done();
        call.removeListener('cancelled', c.cancel);
      });
  };
}
