// The peer wire format: every frame is [u32 big-endian payload length][u8 kind][payload]. A connection
// opens with a HELLO frame naming cluster, sender and receiver; the receiver answers HELLO_OK or REJECT
// (with a reason) and only then do messages flow, so a member of another cluster never gets to speak.
import { TransportProtocolError } from './errors.ts';

export const HEADER_BYTES = 5;

export enum FrameKind {
  Hello = 1,
  HelloOk = 2,
  Reject = 3,
  /** One encoded raftpb.Message. */
  Msg = 4,
  /** A MsgSnap without its data: [u64 data length][encoded Message]. */
  SnapHead = 5,
  /** The next piece of the snapshot data announced by SnapHead. */
  SnapChunk = 6,
  /** The receiver has the whole snapshot and has handed it on. */
  SnapAck = 7,
  /** Instead of a HELLO: a member about to join asks for the cluster ID and member list. */
  MembersReq = 8,
  /** The answer to MembersReq: opaque bytes from the host (JSON), then the connection ends. */
  MembersResp = 9,
  /**
   * Instead of a HELLO: a member checking for corruption asks for this one's HashKV (etcd's POST
   * /members/hashkv on the peer URL); the payload is an etcdserverpb.HashKVRequest.
   */
  HashKVReq = 10,
  /** The answer to HashKVReq: an etcdserverpb.HashKVResponse (or a Reject with the error), then the end. */
  HashKVResp = 11,
}

export enum Channel {
  /** The long-lived stream of raft messages. */
  Stream = 0,
  /** One snapshot, then the connection ends. */
  Snapshot = 1,
}

const PROTOCOL_VERSION = 1;
const HELLO_BYTES = 2 + 3 * 8;

export interface Hello {
  channel: Channel;
  clusterId: bigint;
  from: bigint;
  to: bigint;
}

/** Writes a frame header at `offset`. */
export function writeHeader(buf: Uint8Array, offset: number, kind: FrameKind, payloadBytes: number): void {
  buf[offset] = payloadBytes >>> 24;
  buf[offset + 1] = (payloadBytes >>> 16) & 0xff;
  buf[offset + 2] = (payloadBytes >>> 8) & 0xff;
  buf[offset + 3] = payloadBytes & 0xff;
  buf[offset + 4] = kind;
}

/** A whole frame around `payload` (one copy; fine for the small control frames). */
export function frame(kind: FrameKind, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  writeHeader(out, 0, kind, payload.length);
  out.set(payload, HEADER_BYTES);
  return out;
}

export function helloFrame(h: Hello): Uint8Array {
  const p = new Uint8Array(HELLO_BYTES);
  const v = new DataView(p.buffer);
  p[0] = PROTOCOL_VERSION;
  p[1] = h.channel;
  v.setBigUint64(2, h.clusterId);
  v.setBigUint64(10, h.from);
  v.setBigUint64(18, h.to);
  return frame(FrameKind.Hello, p);
}

export function parseHello(payload: Uint8Array): Hello {
  if (payload.length !== HELLO_BYTES)
    throw new TransportProtocolError(`bad hello of ${payload.length} bytes`);
  if (payload[0] !== PROTOCOL_VERSION)
    throw new TransportProtocolError(`unknown protocol version ${payload[0]}`);
  const channel = payload[1];
  if (channel !== Channel.Stream && channel !== Channel.Snapshot) {
    throw new TransportProtocolError(`unknown channel ${channel}`);
  }
  const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
  return { channel, clusterId: v.getBigUint64(2), from: v.getBigUint64(10), to: v.getBigUint64(18) };
}

export function rejectFrame(reason: string): Uint8Array {
  return frame(FrameKind.Reject, new TextEncoder().encode(reason));
}

export const readReason = (payload: Uint8Array): string => new TextDecoder().decode(payload);

/**
 * Cuts a byte stream into frames. Bytes are copied only when a frame spans chunks, and then once, when
 * the frame is complete. A length over `maxFrameBytes` is a protocol error (the caller closes).
 */
export class FrameReader {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private need = HEADER_BYTES;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds `chunk`; calls `onFrame` for each complete frame (payload is a view, valid during the call). */
  push(chunk: Uint8Array, onFrame: (kind: number, payload: Uint8Array) => void): void {
    let buf = chunk;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.need) return;
      buf = concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let p = 0;
    for (;;) {
      const avail = buf.length - p;
      if (avail < HEADER_BYTES) {
        this.need = HEADER_BYTES;
        break;
      }
      const len = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
      if (len > this.maxFrameBytes) {
        throw new TransportProtocolError(`frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes}`);
      }
      if (avail < HEADER_BYTES + len) {
        this.need = HEADER_BYTES + len;
        break;
      }
      onFrame(buf[p + 4]!, buf.subarray(p + HEADER_BYTES, p + HEADER_BYTES + len));
      p += HEADER_BYTES + len;
    }
    if (p < buf.length) {
      this.pending = [buf.subarray(p)];
      this.pendingBytes = buf.length - p;
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  for (const c of parts) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}
