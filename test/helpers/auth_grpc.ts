// gRPC calls carrying an auth token, for the differential auth tests: a unary call or a stream's first
// answer on one HTTP/2 session, with metadata `token` (or none), encoded and decoded with the
// repository's protobufjs types. The outcome is the gRPC code and message, plus, for a call that
// succeeded, the decoded first answer (a Watch's created/canceled answer carries its refusal there).
import http2 from 'node:http2';
import { messageType, serviceType } from '../../src/proto/index.ts';
import { percentDecode } from './grpc_raw.ts';

type Any = Record<string, any>;

export interface AuthOutcome {
  /** grpc-status; -1 when the call ended without one, -2 when still open at the bound. */
  code: number;
  message: string;
  /** The first answer, decoded (plain object, longs as strings). */
  first?: Any;
}

export class AuthGrpc {
  private constructor(private readonly session: http2.ClientHttp2Session) {}

  static connect(endpoint: string): Promise<AuthGrpc> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`http://${endpoint.replace(/^https?:\/\//, '')}`);
      s.once('connect', () => resolve(new AuthGrpc(s)));
      s.once('error', reject);
      s.on('error', () => {});
    });
  }

  /**
   * Calls `/<service>/<method>` with `req`; for a server stream (or a bidi stream, whose request side
   * stays open), ends at the first answer or the status, whichever comes first, within `boundMs`.
   */
  call(
    service: string,
    method: string,
    req: Any,
    token?: string,
    boundMs = 5000,
    /** The metadata key the token travels in: etcd reads `token`, then `authorization`. */
    tokenKey = 'token',
  ): Promise<AuthOutcome> {
    const m = serviceType(service).methods[method];
    if (!m) throw new Error(`no method ${service}/${method}`);
    const reqType = messageType(m.resolvedRequestType!.fullName.slice(1));
    const respType = messageType(m.resolvedResponseType!.fullName.slice(1));
    const payload = Buffer.from(reqType.encode(reqType.fromObject(req)).finish());
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    return new Promise((resolve) => {
      const out: AuthOutcome = { code: -2, message: '' };
      let buf = Buffer.alloc(0);
      let done = false;
      const headers: Record<string, string> = {
        ':method': 'POST',
        ':path': `/${service}/${method}`,
        'content-type': 'application/grpc',
        te: 'trailers',
      };
      if (token !== undefined) headers[tokenKey] = token;
      const r = this.session.request(headers);
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (!r.destroyed) r.close(http2.constants.NGHTTP2_CANCEL);
        resolve(out);
      };
      const status = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] === undefined) return;
        out.code = Number(h['grpc-status']);
        const msg = h['grpc-message'];
        out.message = percentDecode(typeof msg === 'string' ? msg : '');
        finish();
      };
      const timer = setTimeout(finish, boundMs);
      r.on('response', status);
      r.on('trailers', status);
      r.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (out.first || buf.length < 5) return;
        const len = buf.readUInt32BE(1);
        if (buf.length < 5 + len) return;
        out.first = respType.toObject(respType.decode(buf.subarray(5, 5 + len)), {
          longs: String,
          bytes: String,
          defaults: false,
        });
        if (m.responseStream) {
          out.code = 0;
          finish();
        }
      });
      r.on('close', () => {
        if (out.code === -2 && !done) out.code = -1;
        finish();
      });
      r.on('error', () => {});
      if (m.requestStream) r.write(frame);
      else r.end(frame);
    });
  }

  /** A token for `name`; throws with the server's answer when refused. */
  async token(name: string, password: string): Promise<string> {
    const o = await this.call('etcdserverpb.Auth', 'Authenticate', { name, password });
    const t = o.first?.['token'];
    if (o.code !== 0 || typeof t !== 'string')
      throw new Error(`Authenticate ${name}: ${o.code} ${o.message}`);
    return t;
  }

  close(): void {
    this.session.close();
  }
}

/** `code message` as the tables print it. */
export function outcomeText(o: AuthOutcome): string {
  const base = o.code === -2 ? 'open' : o.code === -1 ? 'no status' : `${o.code} ${o.message}`;
  return base;
}
