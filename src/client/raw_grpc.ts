// A minimal gRPC unary client over node:http2 with no protobuf library: payloads are bytes. Much
// cheaper per call than grpc-js, so a load generator does not become the bottleneck.
import { connect, type ClientHttp2Session } from 'node:http2';
import { grpcUnary } from '../pkg/grpc_unary.ts';

export interface RawResult {
  code: number;
  message: string;
  payload: Buffer;
}

export class RawGrpc {
  private readonly session: ClientHttp2Session;
  private readonly metadata: Readonly<Record<string, string>> | undefined;

  /** `token`: an auth token sent with every call (gRPC metadata `token`, as clientv3 sends it). */
  constructor(endpoint: string, token?: string) {
    this.metadata = token === undefined ? undefined : { token };
    this.session = connect(`http://${endpoint.replace(/^https?:\/\//, '')}`);
    this.session.on('error', () => {});
    this.session.setMaxListeners(0);
  }

  async unary(path: string, payload: Uint8Array): Promise<RawResult> {
    const r = await grpcUnary(this.session, path, payload, undefined, this.metadata);
    return { code: r.code, message: r.message, payload: r.payload ?? Buffer.alloc(0) };
  }

  close(): void {
    this.session.close();
  }
}

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function bytesField(out: number[], field: number, b: Uint8Array): void {
  varint(out, (field << 3) | 2);
  varint(out, b.length);
  for (const x of b) out.push(x);
}

/** etcdserverpb.PutRequest {key = 1, value = 2}. */
export function encodePut(key: Uint8Array, value: Uint8Array): Buffer {
  const out: number[] = [];
  bytesField(out, 1, key);
  bytesField(out, 2, value);
  return Buffer.from(out);
}

/** etcdserverpb.RangeRequest {key = 1, serializable = 7}. */
export function encodeRange(key: Uint8Array, serializable: boolean): Buffer {
  const out: number[] = [];
  bytesField(out, 1, key);
  if (serializable) out.push(0x38, 1);
  return Buffer.from(out);
}

/** etcdserverpb.AuthenticateRequest {name = 1, password = 2}. */
export function encodeAuthenticate(name: string, password: string): Buffer {
  const out: number[] = [];
  bytesField(out, 1, Buffer.from(name));
  bytesField(out, 2, Buffer.from(password));
  return Buffer.from(out);
}

/** AuthenticateResponse.token (field 2) from its bytes; '' when absent. */
export function authenticateToken(resp: Buffer): string {
  let i = 0;
  while (i < resp.length) {
    const tag = resp[i++]!;
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = resp[i++]!;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (tag === 0x12) return resp.subarray(i, i + len).toString();
    i += len; // field 1 (header) is the only other, length-delimited too
  }
  return '';
}

/** etcdserverpb.CompactionRequest {revision = 1, physical = 2}. */
export function encodeCompaction(revision: number, physical: boolean): Buffer {
  const out: number[] = [0x08];
  varint(out, revision);
  if (physical) out.push(0x10, 1);
  return Buffer.from(out);
}

/** ResponseHeader.revision from any response whose field 1 is the header. */
export function headerRevision(resp: Buffer): number {
  // field 1 (header), length-delimited
  if (resp[0] !== 0x0a) return 0;
  let i = 1;
  let len = 0;
  let shift = 0;
  for (;;) {
    const b = resp[i++]!;
    len += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
  }
  const end = i + len;
  while (i < end) {
    const tag = resp[i++]!;
    let v = 0;
    shift = 0;
    for (;;) {
      const b = resp[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    if (tag === 0x18) return v; // revision = 3, varint
  }
  return 0;
}
