// Sending one MsgSnap on a connection of its own, so a large snapshot never holds up heartbeats and
// appends on the stream: HELLO, then a head frame (the message without its data, plus the data length),
// then the data in chunks, written as the socket drains. The receiver acknowledges once it has handed
// the whole message on; only that acknowledgement counts as success.
import type { Socket } from 'node:net';
import { encodeMessageInto, messageSize } from '../raft/raftpb_codec.ts';
import type { Message } from '../raft/raftpb.ts';
import { TransportProtocolError } from './errors.ts';
import {
  Channel,
  frame,
  FrameKind,
  FrameReader,
  HEADER_BYTES,
  helloFrame,
  readReason,
  writeHeader,
} from './frame.ts';
import { hex, type Limits, type PeerAddr, type TransportLogger } from './options.ts';
import { dialPeer, type PeerTls } from './secure.ts';

export interface SnapshotSend {
  readonly clusterId: bigint;
  readonly addr: PeerAddr;
  readonly limits: Limits;
  readonly log: TransportLogger;
  readonly tls: PeerTls | undefined;
  track(socket: Socket): void;
}

/** The head frame's payload: [u64 data length][the message with empty snapshot data]. */
function headPayload(m: Message): { payload: Uint8Array; data: Uint8Array } {
  const snap = m.snapshot!;
  const head: Message = { ...m, snapshot: { data: new Uint8Array(0), metadata: snap.metadata } };
  const payload = new Uint8Array(8 + messageSize(head));
  new DataView(payload.buffer).setBigUint64(0, BigInt(snap.data.length));
  encodeMessageInto(head, payload, 8);
  return { payload, data: snap.data };
}

/**
 * Starts sending `m` (a MsgSnap with a snapshot); `done(ok)` is called exactly once unless `abort()` comes
 * first. Returns the abort function.
 */
export function sendSnapshot(env: SnapshotSend, m: Message, done: (ok: boolean) => void): () => void {
  const { limits, log } = env;
  const { payload, data } = headPayload(m);
  let finished = false;
  const finish = (ok: boolean, why: string) => {
    if (finished) return;
    finished = true;
    if (ok) log.info(`sent snapshot ${m.snapshot!.metadata.index} (${data.length} bytes) to ${hex(m.to)}`);
    else log.warn(`failed to send snapshot ${m.snapshot!.metadata.index} to ${hex(m.to)}: ${why}`);
    done(ok);
  };

  const { socket: s, ready } = dialPeer(env.addr, env.tls);
  env.track(s);
  s.setTimeout(limits.snapshotIdleTimeoutMs, () => s.destroy(new Error('snapshot connection idle')));
  let offset = 0;
  const pump = () => {
    while (offset < data.length) {
      const n = Math.min(limits.snapshotChunkBytes, data.length - offset);
      const header = new Uint8Array(HEADER_BYTES);
      writeHeader(header, 0, FrameKind.SnapChunk, n);
      s.write(header);
      const more = s.write(data.subarray(offset, offset + n));
      offset += n;
      if (!more) {
        s.once('drain', pump);
        return;
      }
    }
  };
  let lastError = 'connection closed before the receiver acknowledged';
  const reader = new FrameReader(limits.maxFrameBytes);
  const onFrame = (kind: number, body: Uint8Array) => {
    if (kind === FrameKind.HelloOk) {
      s.write(frame(FrameKind.SnapHead, payload));
      pump();
    } else if (kind === FrameKind.SnapAck && offset === data.length) {
      finish(true, '');
      s.end();
    } else if (kind === FrameKind.Reject) {
      lastError = `rejected by the peer: ${readReason(body)}`;
      log.error(`peer ${hex(m.to)} ${lastError}`);
      s.destroy();
    } else {
      throw new TransportProtocolError(`unexpected frame kind ${kind} on a snapshot connection`);
    }
  };
  s.on(ready, () => {
    s.write(helloFrame({ channel: Channel.Snapshot, clusterId: env.clusterId, from: m.from, to: m.to }));
  });
  s.on('data', (chunk: Buffer) => {
    try {
      reader.push(chunk, onFrame);
    } catch (e) {
      if (!(e instanceof TransportProtocolError)) throw e;
      lastError = e.message;
      s.destroy();
    }
  });
  s.on('error', (err) => {
    lastError = err.message;
  });
  s.on('close', () => finish(false, lastError));
  return () => {
    finished = true;
    s.destroy();
  };
}
