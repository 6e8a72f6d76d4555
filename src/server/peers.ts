// The member's peer connections (etcd's use of rafthttp in raft.go and server.go): the transport is
// started when there is anyone to talk to, follows the member set as conf changes and snapshots change
// it, carries the Ready loop's messages (a MsgSnap gets the backend's data first) and delivers what
// peers send to the raft node. It also remembers which peers were heard from lately, for etcd's
// active-member checks before a membership change.
import type { Logger } from 'pino';
import { ConfChangeType, MessageType, NONE, message, type ConfChange, type Message } from '../raft/index.ts';
import { encodeClusterInfo } from '../membership/join.ts';
import { Transport, type PeerTls, type TransportLogger } from '../transport/transport.ts';
import { idHex } from '../pkg/ids.ts';
import { peerRoundTrip } from '../pkg/metrics.ts';
import type { ConfChangePeers } from './apply/conf_change.ts';
import type { Stores } from './stores.ts';

/** What the peers need of the raft node. */
export interface PeerRaft {
  step(m: Message): void;
  reportUnreachable(id: bigint): void;
  reportSnapshot(id: bigint, ok: boolean): void;
  term(): number;
  committedIndex(): number;
  matchOf(id: bigint): number;
  /** The loop is stopped: the member set no longer changes the connections. */
  isStopped(): boolean;
}

export interface PeersDeps {
  raft: PeerRaft;
  stores: Stores;
  /** A MsgSnap carries the backend as of now: filled in the Ready loop (server/snapshot.ts). */
  snapshots: { fillSnapshot(m: Message): Promise<Message> };
  memberId: bigint;
  /** The peer URL to listen on (--listen-peer-urls, else the advertised one). */
  listenUrl: string;
  /** Peer TLS credentials, if any. */
  tls?: PeerTls | undefined;
  log: Logger;
  fatal(err: unknown): void;
  /** This member was removed from the cluster: the process should stop. */
  onRemoved?: (() => void) | undefined;
  /** Answers a peer's HashKV request (corruption checks: corrupt_peers.ts). */
  hashKV?: ((req: Uint8Array) => Promise<Uint8Array>) | undefined;
}

export class Peers implements ConfChangePeers {
  private transport: Transport | undefined;
  /** Peers heard from recently (for strict reconfiguration checks): id -> last time. */
  private readonly heard = new Map<bigint, number>();
  /** When the oldest unanswered heartbeat to each peer left (the round trip time metric). */
  private readonly heartbeatSent = new Map<bigint, number>();

  constructor(private readonly deps: PeersDeps) {}

  /** Starts the transport and connects to every other member. */
  async start(): Promise<void> {
    if (this.transport) return;
    const { deps } = this;
    const { raft } = deps;
    const t = new Transport({
      clusterId: deps.stores.cluster.clusterId,
      memberId: deps.memberId,
      listenUrl: deps.listenUrl,
      onMessage: (m) => {
        const now = performance.now();
        this.heard.set(m.from, now);
        if (m.type === MessageType.MsgHeartbeatResp) this.heartbeatAnswered(m.from, now);
        raft.step(m);
      },
      onUnreachable: (id) => raft.reportUnreachable(id),
      onSnapshotStatus: (id, ok) => raft.reportSnapshot(id, ok),
      membersInfo: () => encodeClusterInfo(deps.stores.cluster),
      hashKV: deps.hashKV,
      logger: transportLogger(deps.log),
      tls: deps.tls,
    });
    this.transport = t;
    await t.start();
    this.syncAll();
  }

  /** Closes every connection and the listener; resolves once the sockets are closed. */
  async close(): Promise<void> {
    const t = this.transport;
    this.transport = undefined;
    await t?.close();
  }

  /** Step 2 of a Ready. A MsgSnap goes once its data is filled in. */
  send(msgs: Message[]): void {
    const t = this.transport;
    if (!t) return;
    for (const m of msgs) {
      if (m.type === MessageType.MsgHeartbeat && !this.heartbeatSent.has(m.to)) {
        this.heartbeatSent.set(m.to, performance.now());
      }
    }
    const snaps = msgs.filter(isSnap);
    t.send(snaps.length === 0 ? msgs : msgs.filter((m) => !isSnap(m)));
    for (const m of snaps) {
      this.deps.snapshots.fillSnapshot(m).then(
        (full) => this.transport?.send([full]),
        (err: unknown) => {
          this.deps.log.warn({ err, to: idHex(m.to) }, 'failed to prepare a snapshot');
          this.deps.raft.reportSnapshot(m.to, false);
        },
      );
    }
  }

  private heartbeatAnswered(from: bigint, now: number): void {
    const sent = this.heartbeatSent.get(from);
    if (sent === undefined) return;
    this.heartbeatSent.delete(from);
    // A heartbeat to a peer that was down is answered by chance long after: no round trip.
    if (now - sent > 10_000) return;
    peerRoundTrip.observe({ To: idHex(from) }, (now - sent) / 1000);
  }

  /** Bytes sent to and received from each peer (hex ID), for the metrics. */
  byteCounts(): { id: string; sent: number; received: number }[] {
    const out = [];
    for (const [id, c] of this.transport?.bytes ?? []) out.push({ id: idHex(id), ...c });
    return out;
  }

  /** Peers whose message stream is up (hex IDs), for the metrics. */
  connectedPeers(): string[] {
    const t = this.transport;
    if (!t) return [];
    return this.deps.stores.cluster
      .members()
      .filter((m) => m.id !== this.deps.memberId && t.connected(m.id))
      .map((m) => idHex(m.id));
  }

  /** After a snapshot replaced the member set: connect to every member it names. */
  syncAll(): void {
    const t = this.transport;
    if (!t) return;
    for (const m of this.deps.stores.cluster.members()) {
      if (m.id !== this.deps.memberId && m.peerURLs[0]) t.addPeer(m.id, m.peerURLs[0]);
    }
  }

  /**
   * This member plus the peers it is connected to or heard from within the last 5 s (etcd's
   * active-member check before a membership change).
   */
  activePeers(): Set<bigint> {
    const now = performance.now();
    const s = new Set<bigint>([this.deps.memberId]);
    for (const [id, t] of this.heard) if (now - t < 5000) s.add(id);
    for (const m of this.deps.stores.cluster.members()) if (this.transport?.connected(m.id)) s.add(m.id);
    return s;
  }

  finalHeartbeat(id: bigint): Message {
    const { raft } = this.deps;
    return message({
      type: MessageType.MsgHeartbeat,
      to: id,
      from: this.deps.memberId,
      term: raft.term(),
      commit: Math.min(raft.matchOf(id), raft.committedIndex()),
    });
  }

  /** Keeps the transport's peer set in step with the members. */
  onConfChange(cc: ConfChange): void {
    const { deps } = this;
    if (cc.nodeId === NONE || deps.raft.isStopped()) return;
    if (cc.type === ConfChangeType.ConfChangeRemoveNode) {
      if (cc.nodeId === deps.memberId) {
        deps.log.warn(
          { 'local-member-id': idHex(cc.nodeId) },
          'the member has been permanently removed from the cluster',
        );
        // Like etcd, a removed member stops serving, so that clients fail over to the others.
        setImmediate(() => deps.onRemoved?.());
      }
      // A moment's grace so the last heartbeat leaves before the connection closes.
      const t = this.transport;
      setTimeout(() => {
        if (!deps.stores.cluster.has(cc.nodeId)) t?.removePeer(cc.nodeId);
      }, 1000).unref();
      return;
    }
    const m = deps.stores.cluster.member(cc.nodeId);
    if (!m || m.id === deps.memberId || !m.peerURLs[0]) return;
    if (!this.transport) {
      this.start().catch((err: unknown) => deps.fatal(err));
      return;
    }
    this.transport.addPeer(m.id, m.peerURLs[0]);
  }
}

const isSnap = (m: Message): boolean => m.type === MessageType.MsgSnap;

function transportLogger(log: Logger): TransportLogger {
  const l = log.child({ component: 'rafthttp' });
  return {
    debug: (m) => l.debug(m),
    info: (m) => l.info(m),
    warn: (m) => l.warn(m),
    error: (m) => l.error(m),
  };
}
