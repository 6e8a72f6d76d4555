// Requests only the leader can answer (lease keep-alive and time-to-live: lease expiry runs there) are
// forwarded from a follower to the leader's client URL as raw gRPC frames over node:http2 (etcd forwards
// them over its peer HTTP API). One session per leader URL, reused; each request is one stream.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { ErrTimeout } from './errors.ts';

/** The leader answered with a non-OK gRPC status: passed on to the client as it is. */
export class ForwardedStatusError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
    this.name = 'ForwardedStatusError';
  }
}

export class LeaderForward {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private closed = false;

  /** Sends one request message on `path` to `url` and resolves with the first response message. */
  call(url: string, path: string, payload: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ErrTimeout());
    const session = this.session(url);
    return new Promise((resolve, reject) => {
      const req = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
      });
      const timer = setTimeout(() => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new ErrTimeout());
      }, timeoutMs);
      const chunks: Buffer[] = [];
      let code = 0;
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
      req.on('error', () => {
        clearTimeout(timer);
        this.drop(url, session);
        reject(new ErrTimeout());
      });
      req.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        if (code !== 0) return reject(new ForwardedStatusError(code, message));
        if (body.length < 5) return reject(new ErrTimeout());
        resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
      });
      const frame = Buffer.allocUnsafe(5 + payload.length);
      frame[0] = 0;
      frame.writeUInt32BE(payload.length, 1);
      frame.set(payload, 5);
      req.end(frame);
    });
  }

  private session(url: string): ClientHttp2Session {
    const cur = this.sessions.get(url);
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const s = connect(url.includes('://') ? url : `http://${url}`);
    s.on('error', () => this.drop(url, s));
    s.on('close', () => this.drop(url, s));
    s.unref();
    this.sessions.set(url, s);
    return s;
  }

  private drop(url: string, s: ClientHttp2Session): void {
    if (this.sessions.get(url) === s) this.sessions.delete(url);
    if (!s.destroyed) s.destroy();
  }

  close(): void {
    this.closed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}
