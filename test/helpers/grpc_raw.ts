// A gRPC client that sends raw bytes: the body of the HTTP/2 request is exactly what the test gives
// (prefix and all), so malformed messages and broken framing reach the server as written. Used by the
// differential tests that compare the status tetcd and etcd answer with.
import http2 from 'node:http2';
import { connect, type Socket } from 'node:net';
import { h2Frame } from './h2.ts';

/** One gRPC message: compressed flag, 4-byte big-endian length, payload. */
export function grpcFrame(payload: Buffer | Uint8Array, compressed = false): Buffer {
  const h = Buffer.alloc(5);
  h[0] = compressed ? 1 : 0;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec); bytes that are not %XX stay as they are. */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** How a call ended, as the client saw it. */
export interface CallOutcome {
  /** 'status': trailers (or trailers-only) arrived; 'reset': RST_STREAM/GOAWAY without a status;
   * 'open': nothing ended the call before the bound. */
  end: 'status' | 'reset' | 'open';
  code?: number;
  message?: string;
  /** gRPC messages received before the end. */
  messages: number;
  httpStatus?: number;
  rstCode?: number;
}

export function describeOutcome(o: CallOutcome): string {
  if (o.end === 'status') return `${o.code} ${JSON.stringify(o.message ?? '')}`;
  if (o.end === 'reset') return `reset(${o.rstCode ?? '?'})`;
  return 'open';
}

export interface RawCallOptions {
  /** Extra request headers (e.g. grpc-encoding). */
  headers?: Record<string, string>;
  /** Give up after this long and report the call as still open. */
  boundMs: number;
  /** Leave the request side open (no END_STREAM) after the body; streams use it. */
  keepOpen?: boolean;
  contentType?: string;
}

/** One call with `body` as the raw request body on an existing session. */
export function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  body: Buffer,
  opts: RawCallOptions,
): Promise<CallOutcome> {
  return new Promise((resolve) => {
    const out: CallOutcome = { end: 'open', messages: 0 };
    let buffered = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL);
      resolve(out);
    };
    const takeStatus = (h: http2.IncomingHttpHeaders) => {
      const s = h['grpc-status'];
      if (s === undefined) return false;
      out.end = 'status';
      out.code = Number(s);
      const m = h['grpc-message'];
      out.message = percentDecode(typeof m === 'string' ? m : '');
      return true;
    };
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': opts.contentType ?? 'application/grpc',
      te: 'trailers',
      ...opts.headers,
    });
    const timer = setTimeout(finish, opts.boundMs);
    req.on('response', (h) => {
      out.httpStatus = Number(h[':status']);
      if (takeStatus(h)) finish();
    });
    req.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      while (buffered.length >= 5) {
        const len = buffered.readUInt32BE(1);
        if (buffered.length < 5 + len) break;
        out.messages++;
        buffered = buffered.subarray(5 + len);
      }
    });
    req.on('trailers', (h) => {
      if (takeStatus(h)) finish();
    });
    req.on('close', () => {
      if (out.end === 'open' && !done) {
        out.end = 'reset';
        out.rstCode = req.rstCode;
      }
      finish();
    });
    req.on('error', () => {
      /* the 'close' that follows reports it */
    });
    if (opts.keepOpen) req.write(body);
    else req.end(body);
  });
}

export function openSession(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** What a server sent back on a raw connection: its frames' types, and GOAWAY/RST_STREAM codes. */
export interface RawConnOutcome {
  goaway?: number;
  /** stream id -> RST_STREAM error code */
  rst: Map<number, number>;
  /** the socket was closed by the server within the bound */
  closed: boolean;
  frameTypes: number[];
}

/**
 * Opens a TCP connection, sends the client preface and an empty SETTINGS, then `frames`, and collects
 * what comes back for `boundMs`. Header blocks are not decoded; only frame types and error codes.
 */
export function rawConnection(port: number, frames: Buffer[], boundMs: number): Promise<RawConnOutcome> {
  return new Promise((resolve) => {
    const out: RawConnOutcome = { rst: new Map(), closed: false, frameTypes: [] };
    let buf = Buffer.alloc(0);
    const sock: Socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, boundMs);
    sock.on('connect', () => {
      sock.write(
        Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), h2Frame(4, 0, 0), ...frames]),
      );
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        const p = buf.subarray(9, 9 + len);
        buf = buf.subarray(9 + len);
        out.frameTypes.push(type);
        if (type === 4 && !(flags & 1)) sock.write(h2Frame(4, 1, 0)); // ack SETTINGS
        if (type === 7 && p.length >= 8) out.goaway = p.readUInt32BE(4);
        if (type === 3 && p.length >= 4) out.rst.set(id, p.readUInt32BE(0));
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      out.closed = true;
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** A HEADERS block for a gRPC POST, HPACK literals without indexing or Huffman (RFC 7541 6.2.2). */
export function grpcHeaderBlock(path: string, authority: string): Buffer {
  const fields: [string, string][] = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', authority],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ];
  const parts: Buffer[] = [];
  const str = (s: string) => {
    const b = Buffer.from(s);
    if (b.length >= 127) throw new Error('header too long for this encoder');
    return Buffer.concat([Buffer.from([b.length]), b]);
  };
  for (const [k, v] of fields) parts.push(Buffer.from([0x00]), str(k), str(v));
  return Buffer.concat(parts);
}
