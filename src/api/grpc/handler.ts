// Turns an async function into a grpc-js unary handler: errors become statuses through the table,
// errors outside it are logged (they are bugs) and answered as Unknown.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toStatus } from './errors.ts';

export type Unary = (raw: Buffer, call: grpc.ServerUnaryCall<Buffer, object>) => object | Promise<object>;

export function unary(log: Logger, method: string, fn: Unary): grpc.handleUnaryCall<Buffer, object> {
  return (call, callback) => {
    let out: object | Promise<object>;
    try {
      out = fn(call.request, call);
    } catch (err) {
      callback(statusOf(log, method, err));
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (v) => callback(null, v),
        (err: unknown) => callback(statusOf(log, method, err)),
      );
    } else {
      callback(null, out);
    }
  };
}

/** The status a client sees for `err`; errors outside the table are logged (they are bugs). */
export function statusOf(log: Logger, method: string, err: unknown): { code: grpc.status; details: string } {
  const s = toStatus(err);
  if (s.unknown) log.error({ method, err }, 'request failed with an unexpected error');
  return { code: s.code, details: s.details };
}
