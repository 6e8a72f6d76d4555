// The outbound side towards one peer: a long-lived connection, a bounded queue of messages flushed as
// one write per event-loop turn, and reconnection with capped exponential backoff. While backing off
// after a failure, messages are dropped at once (raft retries them), so nothing piles up for a dead peer.
// A peer that dials in to us is up again: the backoff is cut short (a restarted member hears from the
// leader at once, not after up to backoffMaxMs).
import type { Socket } from 'node:net';
import { encodeMessageInto } from '../raft/raftpb_codec.ts';
import { type Message, MessageType } from '../raft/raftpb.ts';
import { TransportProtocolError } from './errors.ts';
import {
  Channel,
  FrameKind,
  FrameReader,
  HEADER_BYTES,
  helloFrame,
  readReason,
  writeHeader,
} from './frame.ts';
import { hex, type Limits, type PeerAddr, type TransportLogger } from './options.ts';
import { dialPeer, type PeerTls } from './secure.ts';

/** What a peer needs from its transport. */
export interface PeerHost {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly limits: Limits;
  readonly log: TransportLogger;
  /** Peer TLS credentials (https:// peer URLs). */
  readonly tls: PeerTls | undefined;
  scheduleFlush(peer: Peer): void;
  reportUnreachable(id: bigint): void;
  track(socket: Socket): void;
  /** Bytes written to (sent) or read from (received) a peer's connections, for the metrics. */
  countBytes(id: bigint, sent: number, received: number): void;
}

type State = 'connecting' | 'ready' | 'backoff' | 'closed';

export class Peer {
  private state: State = 'connecting';
  private socket: Socket | undefined;
  private queue: Message[] = [];
  private sizes: number[] = [];
  private queuedBytes = 0;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastError = '';
  /** Whether the last failure was already logged as a warning (later attempts log at debug). */
  private failureLogged = false;

  constructor(
    readonly id: bigint,
    readonly url: string,
    readonly addr: PeerAddr,
    private readonly host: PeerHost,
  ) {
    this.connect();
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  get queuedMessages(): number {
    return this.queue.length;
  }

  /** Queues `m` (of encoded size `size`); returns false if it was dropped. */
  enqueue(m: Message, size: number): boolean {
    if (this.state === 'backoff' || this.state === 'closed') return false;
    const { maxQueueMsgs, maxQueueBytes } = this.host.limits;
    const full = this.queue.length >= maxQueueMsgs || this.queuedBytes + size > maxQueueBytes;
    // Appends are what fill a slow peer's queue; dropping them is safe (raft probes and resends), and
    // keeps the small votes and heartbeats that hold leadership and elections together flowing.
    if (full && (m.type === MessageType.MsgApp || m.type === MessageType.MsgSnap)) return false;
    // Still a hard bound for everything else.
    if (this.queue.length >= 4 * maxQueueMsgs || this.queuedBytes + size > 2 * maxQueueBytes) return false;
    this.queue.push(m);
    this.sizes.push(size);
    this.queuedBytes += size;
    this.host.scheduleFlush(this);
    return true;
  }

  /** Writes everything queued as one buffer, unless the socket is not ready or still has a backlog. */
  flush(): void {
    const s = this.socket;
    if (this.state !== 'ready' || s === undefined || this.queue.length === 0) return;
    if (s.writableLength > this.host.limits.writeHighWaterBytes) return; // 'drain' schedules us again
    const sizes = this.sizes;
    let total = 0;
    for (const n of sizes) total += HEADER_BYTES + n;
    const buf = Buffer.allocUnsafe(total);
    let p = 0;
    this.queue.forEach((m, i) => {
      const n = sizes[i]!;
      writeHeader(buf, p, FrameKind.Msg, n);
      p = encodeMessageInto(m, buf, p + HEADER_BYTES);
    });
    if (p !== total) throw new Error(`transport: encoded ${p} bytes, expected ${total}`);
    this.clearQueue();
    s.write(buf);
    this.host.countBytes(this.id, total, 0);
  }

  /** The peer is known to be up: if backing off, reconnect now with the backoff reset. */
  retryNow(): void {
    if (this.state !== 'backoff') return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.attempts = 0;
    this.connect();
  }

  close(): void {
    this.state = 'closed';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.clearQueue();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private clearQueue(): void {
    this.queue = [];
    this.sizes = [];
    this.queuedBytes = 0;
  }

  private connect(): void {
    this.state = 'connecting';
    const { limits, log } = this.host;
    const { socket: s, ready } = dialPeer(this.addr, this.host.tls);
    this.socket = s;
    this.host.track(s);
    s.setKeepAlive(true, 5000);
    s.setTimeout(limits.handshakeTimeoutMs, () => s.destroy(new Error('handshake timed out')));
    const reader = new FrameReader(limits.maxFrameBytes);
    s.on(ready, () => {
      s.write(
        helloFrame({
          channel: Channel.Stream,
          clusterId: this.host.clusterId,
          from: this.host.memberId,
          to: this.id,
        }),
      );
    });
    s.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (kind, payload) => this.onFrame(s, kind, payload));
      } catch (e) {
        if (!(e instanceof TransportProtocolError)) throw e;
        log.error(`peer ${hex(this.id)}: ${e.message}; closing the connection`);
        s.destroy();
      }
    });
    s.on('drain', () => this.host.scheduleFlush(this));
    s.on('error', (err) => {
      this.lastError = err.message;
    });
    s.on('close', () => this.onClose(s));
  }

  private onFrame(s: Socket, kind: number, payload: Uint8Array): void {
    if (s !== this.socket) return;
    if (kind === FrameKind.HelloOk && this.state === 'connecting') {
      this.state = 'ready';
      this.attempts = 0;
      this.failureLogged = false;
      s.setTimeout(0);
      this.host.log.info(`connected to peer ${hex(this.id)} at ${this.url}`);
      this.host.scheduleFlush(this);
    } else if (kind === FrameKind.Reject) {
      this.lastError = `rejected by the peer: ${readReason(payload)}`;
      this.host.log.error(`peer ${hex(this.id)} at ${this.url} ${this.lastError}`);
      this.failureLogged = true;
      s.destroy();
    } else {
      throw new TransportProtocolError(`unexpected frame kind ${kind} from the receiving side`);
    }
  }

  private onClose(s: Socket): void {
    if (s !== this.socket || this.state === 'closed') return;
    const wasReady = this.state === 'ready';
    this.socket = undefined;
    this.clearQueue();
    this.host.reportUnreachable(this.id);
    const why = this.lastError || 'connection closed';
    this.lastError = '';
    if (wasReady) this.host.log.warn(`lost connection to peer ${hex(this.id)} at ${this.url}: ${why}`);
    else if (!this.failureLogged)
      this.host.log.warn(`cannot reach peer ${hex(this.id)} at ${this.url}: ${why}`);
    else this.host.log.debug(`cannot reach peer ${hex(this.id)} at ${this.url}: ${why}`);
    this.failureLogged = true;
    this.state = 'backoff';
    const { backoffMinMs, backoffMaxMs } = this.host.limits;
    const delay = Math.min(backoffMaxMs, backoffMinMs * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'backoff') this.connect();
    }, delay);
  }
}
