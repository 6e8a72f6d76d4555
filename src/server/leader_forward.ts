// Requests only the leader can answer (lease keep-alive and time-to-live: lease expiry runs there) are
// forwarded from a follower to the leader's client URL as raw gRPC frames over node:http2 (etcd forwards
// them over its peer HTTP API). One session per leader URL, reused; each request is one stream.
import { connect, type ClientHttp2Session } from 'node:http2';
import { grpcUnary } from '../pkg/grpc_unary.ts';
import { ErrTimeout, ForwardedStatusError } from './errors.ts';

export class LeaderForward {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private closed = false;

  /** Sends one request message on `path` to `url` and resolves with the first response message. */
  call(url: string, path: string, payload: Uint8Array, timeoutMs: number, token?: string): Promise<Buffer> {
    if (this.closed) return Promise.reject(new ErrTimeout());
    const session = this.session(url);
    // The caller's auth token goes along: the leader checks it again (MemberPromote needs root).
    const md = token === undefined ? undefined : { token };
    return grpcUnary(session, path, payload, timeoutMs, md).then(
      (r) => {
        if (r.code > 0) throw new ForwardedStatusError(r.code, r.message);
        if (r.code < 0 || r.payload === undefined) throw new ErrTimeout();
        return r.payload;
      },
      () => {
        // A stream error or no answer in time: the next call opens a fresh session.
        this.drop(url, session);
        throw new ErrTimeout();
      },
    );
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
