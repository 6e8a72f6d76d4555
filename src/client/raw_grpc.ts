// A minimal gRPC unary client over node:http2 with no protobuf library: payloads are bytes. Much
// cheaper per call than grpc-js, so a load generator does not become the bottleneck.
import { connect, constants, type ClientHttp2Session } from 'node:http2';

export interface RawResult {
  code: number;
  message: string;
  payload: Buffer;
}

export class RawGrpc {
  private readonly session: ClientHttp2Session;

  constructor(endpoint: string) {
    this.session = connect(`http://${endpoint.replace(/^https?:\/\//, '')}`);
    this.session.on('error', () => {});
    this.session.setMaxListeners(0);
  }

  unary(path: string, payload: Uint8Array): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        te: 'trailers',
      });
      const frame = Buffer.allocUnsafe(5 + payload.length);
      frame[0] = 0;
      frame.writeUInt32BE(payload.length, 1);
      frame.set(payload, 5);
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
      req.on('error', reject);
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          code,
          message,
          payload: body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : Buffer.alloc(0),
        });
      });
      req.end(frame);
    });
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
