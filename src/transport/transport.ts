// Raft messages between members: framed protobuf over TCP, one long-lived outbound connection per peer
// (see peer.ts), snapshots on connections of their own (snapshot.ts), inbound connections checked for the
// cluster ID (inbound.ts). send() never blocks: messages are queued per peer and each peer's queue goes
// out as one write per event-loop turn. Callbacks to the owner (unreachable peers, snapshot outcomes) are
// also made from that turn, never from inside send(), so raft can be told while it is not mid-Ready.
import { createServer, type Server, type Socket } from 'node:net';
import { messageSize } from '../raft/raftpb_codec.ts';
import { type Message, MessageType } from '../raft/raftpb.ts';
import { serveInbound } from './inbound.ts';
import {
  DEFAULT_LIMITS,
  hex,
  type Limits,
  parsePeerUrl,
  silentLogger,
  type TransportLogger,
} from './options.ts';
import { Peer } from './peer.ts';
import { peerTlsFront, type PeerTls } from './secure.ts';
import { sendSnapshot } from './snapshot.ts';

export { ClusterIdMismatchError, MemberIdMismatchError, TransportProtocolError } from './errors.ts';
export { fetchHashKV, fetchMembersInfo, PeerRefusedError } from './members_fetch.ts';
export type { PeerTls } from './secure.ts';
export { DEFAULT_LIMITS, type Limits, parsePeerUrl, type TransportLogger } from './options.ts';

/** Test hooks applied to outgoing messages. */
export interface FaultHook {
  drop?(from: bigint, to: bigint, m: Message): boolean;
  delayMs?(from: bigint, to: bigint, m: Message): number;
}

export interface TransportOptions {
  clusterId: bigint;
  memberId: bigint;
  /** Where to listen for peers: `http://host:port` or `host:port`. */
  listenUrl: string;
  onMessage?: (m: Message) => void;
  onUnreachable?: (id: bigint) => void;
  onSnapshotStatus?: (id: bigint, ok: boolean) => void;
  /** Answers a joining member's request for the member list (see members_fetch.ts). */
  membersInfo?: () => Uint8Array | undefined;
  /** Answers a peer's HashKV request (corruption checks; see members_fetch.ts fetchHashKV). */
  hashKV?: ((req: Uint8Array) => Promise<Uint8Array>) | undefined;
  logger?: TransportLogger;
  limits?: Partial<Limits>;
  /** Peer TLS credentials: an https:// listen URL serves TLS, https:// peers are dialed over TLS. */
  tls?: PeerTls | undefined;
}

export class Transport {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly limits: Limits;
  readonly log: TransportLogger;
  onMessage: (m: Message) => void;
  onUnreachable: (id: bigint) => void;
  onSnapshotStatus: (id: bigint, ok: boolean) => void;
  faults: FaultHook | undefined;
  membersInfo: () => Uint8Array | undefined;
  hashKV: ((req: Uint8Array) => Promise<Uint8Array>) | undefined;
  readonly tls: PeerTls | undefined;

  private readonly listenUrl: string;
  private server: Server | undefined;
  private readonly peers = new Map<bigint, Peer>();
  private readonly sockets = new Set<Socket>();
  private readonly snapshots = new Map<bigint, () => void>();
  private readonly partitioned = new Set<bigint>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private readonly dirty = new Set<Peer>();
  private readonly unreachable = new Set<bigint>();
  private snapshotResults: [bigint, boolean][] = [];
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  /** Bytes sent to and received from each peer since start (etcd_network_peer_*_bytes_total). */
  readonly bytes = new Map<bigint, { sent: number; received: number }>();

  constructor(opts: TransportOptions) {
    this.clusterId = opts.clusterId;
    this.memberId = opts.memberId;
    this.listenUrl = opts.listenUrl;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.log = opts.logger ?? silentLogger;
    this.onMessage = opts.onMessage ?? (() => {});
    this.onUnreachable = opts.onUnreachable ?? (() => {});
    this.onSnapshotStatus = opts.onSnapshotStatus ?? (() => {});
    this.membersInfo = opts.membersInfo ?? (() => undefined);
    this.hashKV = opts.hashKV;
    this.tls = opts.tls;
  }

  /** Listens on the peer URL. */
  start(): Promise<void> {
    const { host, port, secure } = parsePeerUrl(this.listenUrl);
    if (secure && this.tls === undefined) {
      throw new Error(`cannot listen on TLS for ${host}:${port}: KeyFile and CertFile are not presented`);
    }
    const front =
      secure && this.tls !== undefined
        ? peerTlsFront(this.tls, this.log, this.limits.handshakeTimeoutMs, (s) => serveInbound(s, this))
        : undefined;
    const server = createServer((s) => {
      this.track(s);
      if (this.closed) return void s.destroy();
      if (front !== undefined) front(s);
      else serveInbound(s, this);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error(`peer listener: ${err.message}`));
        this.log.info(`listening for peers on ${host}:${port}`);
        resolve();
      });
    });
  }

  /** The bound port (useful when listening on port 0). */
  get port(): number {
    const a = this.server?.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  countBytes(id: bigint, sent: number, received: number): void {
    const c = this.bytes.get(id);
    if (c) {
      c.sent += sent;
      c.received += received;
    } else this.bytes.set(id, { sent, received });
  }

  /** Starts (or, with a new URL, restarts) the connection to a peer. */
  addPeer(id: bigint, url: string): void {
    if (this.closed) throw new Error('transport is closed');
    const cur = this.peers.get(id);
    if (cur?.url === url) return;
    cur?.close();
    this.peers.set(id, new Peer(id, url, parsePeerUrl(url), this));
  }

  removePeer(id: bigint): void {
    this.peers.get(id)?.close();
    this.peers.delete(id);
    this.snapshots.get(id)?.();
    this.snapshots.delete(id);
  }

  hasPeer(id: bigint): boolean {
    return this.peers.has(id);
  }

  /** Whether the stream to `id` is up (handshake done). */
  connected(id: bigint): boolean {
    return this.peers.get(id)?.connected ?? false;
  }

  /** Messages waiting for the next flush to `id`. */
  queuedMessages(id: bigint): number {
    return this.peers.get(id)?.queuedMessages ?? 0;
  }

  /** Queues messages for their peers; never blocks and never throws for an unreachable peer. */
  send(msgs: readonly Message[]): void {
    if (this.closed) return;
    for (const m of msgs) {
      if (this.partitioned.has(m.to) || this.faults?.drop?.(this.memberId, m.to, m)) {
        this.dropped(m);
        continue;
      }
      const delay = this.faults?.delayMs?.(this.memberId, m.to, m) ?? 0;
      if (delay > 0) {
        const t = setTimeout(() => {
          this.delayed.delete(t);
          this.route(m);
        }, delay);
        this.delayed.add(t);
      } else {
        this.route(m);
      }
    }
  }

  /** Drops every message to the given peers until heal() (send side only). */
  partition(ids: Iterable<bigint>): void {
    for (const id of ids) this.partitioned.add(id);
  }

  heal(): void {
    this.partitioned.clear();
  }

  /** Closes the listener, every connection and timer; resolves once the sockets are closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    for (const abort of this.snapshots.values()) abort();
    this.snapshots.clear();
    const waits = [...this.sockets].map((s) => new Promise((r) => s.once('close', r)));
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server) waits.push(new Promise((r) => server.close(r)));
    await Promise.all(waits);
  }

  // ---- used by Peer and serveInbound ----

  deliver(m: Message): void {
    if (this.closed) return;
    if (m.to !== this.memberId) {
      this.log.warn(
        `dropped ${MessageType[m.type] ?? m.type} for member ${hex(m.to)} (this is ${hex(this.memberId)})`,
      );
      return;
    }
    this.onMessage(m);
  }

  peerDialedIn(id: bigint): void {
    this.peers.get(id)?.retryNow();
  }

  track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  scheduleFlush(peer?: Peer): void {
    if (peer) this.dirty.add(peer);
    if (this.immediate === undefined && !this.closed) this.immediate = setImmediate(() => this.flush());
  }

  reportUnreachable(id: bigint): void {
    this.unreachable.add(id);
    this.scheduleFlush();
  }

  // ---- internals ----

  private route(m: Message): void {
    if (this.closed) return;
    const peer = this.peers.get(m.to);
    if (peer === undefined) {
      this.log.debug(`dropped ${MessageType[m.type] ?? m.type} to unknown peer ${hex(m.to)}`);
      return;
    }
    if (m.type === MessageType.MsgSnap && m.snapshot !== undefined) return this.startSnapshot(peer, m);
    if (!peer.enqueue(m, messageSize(m))) this.dropped(m);
  }

  private dropped(m: Message): void {
    if (m.type === MessageType.MsgSnap) this.snapshotDone(m.to, false);
    this.reportUnreachable(m.to);
  }

  private startSnapshot(peer: Peer, m: Message): void {
    if (this.snapshots.has(peer.id)) {
      this.log.warn(`dropped a snapshot to ${hex(peer.id)}: one is already being sent`);
      return this.snapshotDone(peer.id, false);
    }
    const abort = sendSnapshot(this.snapshotEnv(peer), m, (ok) => {
      this.snapshots.delete(peer.id);
      this.snapshotDone(peer.id, ok);
    });
    this.snapshots.set(peer.id, abort);
  }

  private snapshotEnv(peer: Peer) {
    return {
      clusterId: this.clusterId,
      addr: peer.addr,
      tls: this.tls,
      limits: this.limits,
      log: this.log,
      track: (s: Socket) => this.track(s),
    };
  }

  private snapshotDone(id: bigint, ok: boolean): void {
    this.snapshotResults.push([id, ok]);
    this.scheduleFlush();
  }

  private flush(): void {
    this.immediate = undefined;
    if (this.closed) return;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const p of dirty) p.flush();
    const unreachable = [...this.unreachable];
    this.unreachable.clear();
    const results = this.snapshotResults;
    this.snapshotResults = [];
    for (const id of unreachable) this.onUnreachable(id);
    for (const [id, ok] of results) this.onSnapshotStatus(id, ok);
  }
}
