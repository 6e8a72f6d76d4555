// One unary gRPC call on an HTTP/2 session, bytes in and bytes out (no protobuf library, no grpc-js
// channel): the request is one length-prefixed message, the status comes from the headers or trailers.
// Used by the raw client (load generation) and by a follower forwarding requests to its leader.
import { constants, type ClientHttp2Session } from 'node:http2';

export interface UnaryResult {
  /** grpc-status; -1 when the answer carried none. */
  code: number;
  message: string;
  /** The first response message; undefined when the body held no whole message prefix. */
  payload: Buffer | undefined;
}

export class UnaryTimeoutError extends Error {
  constructor(path: string, ms: number) {
    super(`${path}: no answer within ${ms} ms`);
    this.name = 'UnaryTimeoutError';
  }
}

/**
 * Sends `payload` on `path` (with `metadata`, e.g. an auth `token`); rejects on a stream error or, with
 * `timeoutMs`, when no answer came.
 */
export function grpcUnary(
  session: ClientHttp2Session,
  path: string,
  payload: Uint8Array,
  timeoutMs?: number,
  metadata?: Readonly<Record<string, string>>,
): Promise<UnaryResult> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ...metadata,
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
    });
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            req.close(constants.NGHTTP2_CANCEL);
            reject(new UnaryTimeoutError(path, timeoutMs));
          }, timeoutMs);
    const chunks: Buffer[] = [];
    let code = -1;
    let message = '';
    const status = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) {
        code = Number(h['grpc-status']);
        message = decodeURIComponent(String(h['grpc-message'] ?? ''));
      }
    };
    req.on('response', status);
    req.on('trailers', status);
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('end', () => {
      clearTimeout(timer);
      const body = Buffer.concat(chunks);
      const whole = body.length >= 5;
      resolve({ code, message, payload: whole ? body.subarray(5, 5 + body.readUInt32BE(1)) : undefined });
    });
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = 0;
    frame.writeUInt32BE(payload.length, 1);
    frame.set(payload, 5);
    req.end(frame);
  });
}
