// The receiving side of one accepted connection: check the HELLO (cluster and member ID), then either
// decode a stream of messages or reassemble one snapshot. Bad input closes this connection with a logged
// error and never reaches raft.
import type { Socket } from 'node:net';
import { decodeMessage, ProtoDecodeError } from '../raft/raftpb_codec.ts';
import { type Message, MessageType } from '../raft/raftpb.ts';
import { ClusterIdMismatchError, MemberIdMismatchError, TransportProtocolError } from './errors.ts';
import { Channel, frame, FrameKind, FrameReader, type Hello, parseHello, rejectFrame } from './frame.ts';
import { hex, type Limits, type TransportLogger } from './options.ts';
import { TLS_HANDSHAKE_BYTE } from './secure.ts';

export interface InboundHost {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly limits: Limits;
  readonly log: TransportLogger;
  deliver(m: Message): void;
  /** A peer opened its message stream to us: it is up, so our own connection to it need not wait. */
  peerDialedIn?(id: bigint): void;
  /** The member list for a joining member, or undefined when this member cannot answer. */
  membersInfo?(): Uint8Array | undefined;
  /** Answers a HashKV request (both encoded); rejects with the error to send back. */
  readonly hashKV?: ((req: Uint8Array) => Promise<Uint8Array>) | undefined;
  /** Bytes read from a peer (after its hello), for the metrics. */
  countBytes(id: bigint, sent: number, received: number): void;
}

interface Assembly {
  m: Message;
  data: Uint8Array;
  got: number;
}

export function serveInbound(s: Socket, host: InboundHost): void {
  const { limits, log } = host;
  const remote = `${s.remoteAddress}:${s.remotePort}`;
  let hello: Hello | undefined;
  let snap: Assembly | undefined;
  let stopped = false;
  const reader = new FrameReader(limits.maxFrameBytes);
  s.setNoDelay(true);
  s.setTimeout(limits.handshakeTimeoutMs, () => s.destroy());

  const reject = (h: Hello, err: Error) => {
    log.error(`rejected connection from member ${hex(h.from)} (${remote}): ${err.message}`);
    stopped = true;
    s.end(rejectFrame(err.message));
  };

  const completeSnapshot = (a: Assembly) => {
    a.m.snapshot!.data = a.data;
    snap = undefined;
    stopped = true;
    log.info(
      `received snapshot ${a.m.snapshot!.metadata.index} (${a.data.length} bytes) from ${hex(a.m.from)}`,
    );
    host.deliver(a.m);
    s.end(frame(FrameKind.SnapAck));
  };

  // A joiner does not know its member ID yet, so it cannot send a HELLO; it gets the list and nothing else.
  const answerMembers = () => {
    stopped = true;
    const info = host.membersInfo?.();
    if (info === undefined) return void s.end(rejectFrame('member list not available'));
    log.info(`sent the member list to ${remote}`);
    s.end(frame(FrameKind.MembersResp, info));
  };

  // Like the member list, a hash is asked for before (and instead of) any HELLO.
  const answerHashKV = (req: Uint8Array) => {
    stopped = true;
    if (host.hashKV === undefined) return void s.end(rejectFrame('hash not available'));
    host.hashKV(req.slice()).then(
      (resp) => s.end(frame(FrameKind.HashKVResp, resp)),
      (err: unknown) => s.end(rejectFrame(err instanceof Error ? err.message : String(err))),
    );
  };

  const onSnapFrame = (kind: number, payload: Uint8Array) => {
    if (kind === FrameKind.SnapHead && snap === undefined) {
      if (payload.length < 8) throw new TransportProtocolError('short snapshot head');
      const total = new DataView(payload.buffer, payload.byteOffset, 8).getBigUint64(0);
      if (total > BigInt(limits.maxSnapshotBytes)) {
        throw new TransportProtocolError(
          `snapshot of ${total} bytes exceeds the limit of ${limits.maxSnapshotBytes}`,
        );
      }
      const m = decodeMessage(payload.subarray(8));
      if (m.type !== MessageType.MsgSnap || m.snapshot === undefined) {
        throw new TransportProtocolError('snapshot head is not a MsgSnap');
      }
      snap = { m, data: new Uint8Array(Number(total)), got: 0 };
      if (total === 0n) completeSnapshot(snap);
    } else if (kind === FrameKind.SnapChunk && snap !== undefined) {
      if (snap.got + payload.length > snap.data.length)
        throw new TransportProtocolError('snapshot data overruns');
      snap.data.set(payload, snap.got);
      snap.got += payload.length;
      if (snap.got === snap.data.length) completeSnapshot(snap);
    } else {
      throw new TransportProtocolError(`unexpected frame kind ${kind} on a snapshot connection`);
    }
  };

  const onFrame = (kind: number, payload: Uint8Array) => {
    if (stopped) return;
    if (hello === undefined) {
      if (kind === FrameKind.MembersReq) return answerMembers();
      if (kind === FrameKind.HashKVReq) return answerHashKV(payload);
      if (kind !== FrameKind.Hello)
        throw new TransportProtocolError(`expected a hello frame, got kind ${kind}`);
      const h = parseHello(payload);
      if (h.clusterId !== host.clusterId)
        return reject(h, new ClusterIdMismatchError(host.clusterId, h.clusterId));
      if (h.to !== host.memberId) return reject(h, new MemberIdMismatchError(host.memberId, h.to));
      hello = h;
      s.setTimeout(h.channel === Channel.Snapshot ? limits.snapshotIdleTimeoutMs : 0);
      s.write(frame(FrameKind.HelloOk));
      log.debug(`accepted ${Channel[h.channel]} connection from member ${hex(h.from)} (${remote})`);
      if (h.channel === Channel.Stream) host.peerDialedIn?.(h.from);
      return;
    }
    if (hello.channel === Channel.Snapshot) return onSnapFrame(kind, payload);
    if (kind !== FrameKind.Msg) throw new TransportProtocolError(`unexpected frame kind ${kind} on a stream`);
    host.deliver(decodeMessage(payload));
  };

  let first = true;
  s.on('data', (chunk: Buffer) => {
    if (first && chunk.length > 0) {
      first = false;
      // A TLS ClientHello on a plaintext peer port: say so rather than "frame too large".
      if (chunk[0] === TLS_HANDSHAKE_BYTE && (s as { encrypted?: boolean }).encrypted !== true) {
        log.error(
          `rejected peer connection from ${remote}: a TLS handshake on this http:// peer URL: that member dials it as https://; every member's peer URLs must use the same scheme`,
        );
        stopped = true;
        return void s.destroy();
      }
    }
    if (hello !== undefined) host.countBytes(hello.from, 0, chunk.length);
    try {
      reader.push(chunk, onFrame);
    } catch (e) {
      if (!(e instanceof TransportProtocolError || e instanceof ProtoDecodeError)) throw e;
      log.error(
        `closing connection from ${hello ? `member ${hex(hello.from)}` : 'unknown peer'} (${remote}): ${e.message}`,
      );
      stopped = true;
      s.destroy();
    }
  });
  s.on('error', (err) => log.debug(`connection from ${remote}: ${err.message}`));
}
