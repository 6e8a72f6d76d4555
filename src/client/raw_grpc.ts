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

/**
 * Field `field` of a message (its top level only), without a protobuf library: a varint field's value
 * as a number, a length-delimited one's bytes; undefined when absent (the last occurrence wins, as
 * protobuf reads them). Enough for the few answers the load tools look into.
 */
export function topField(msg: Buffer, field: number): number | Buffer | undefined {
  let found: number | Buffer | undefined;
  let i = 0;
  while (i < msg.length) {
    const tag = msg[i++]!;
    const wire = tag & 7;
    if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      continue;
    }
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = msg[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 128;
    }
    if (wire === 2) {
      if (tag >>> 3 === field) found = msg.subarray(i, i + v);
      i += v;
    } else if (tag >>> 3 === field) found = v;
  }
  return found;
}

/** AuthenticateResponse.token (field 2) from its bytes; '' when absent. */
export function authenticateToken(resp: Buffer): string {
  const t = topField(resp, 2);
  return Buffer.isBuffer(t) ? t.toString() : '';
}

/** etcdserverpb.CompactionRequest {revision = 1, physical = 2}. */
export function encodeCompaction(revision: number, physical: boolean): Buffer {
  const out: number[] = [0x08];
  varint(out, revision);
  if (physical) out.push(0x10, 1);
  return Buffer.from(out);
}

/** ResponseHeader.revision (field 3) from any response whose field 1 is the header. */
export function headerRevision(resp: Buffer): number {
  const header = topField(resp, 1);
  const rev = Buffer.isBuffer(header) ? topField(header, 3) : undefined;
  return typeof rev === 'number' ? rev : 0;
}
