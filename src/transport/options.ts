// Transport settings with their defaults, and the small shared shapes (logger, peer address).
import { constants } from 'node:buffer';

export interface TransportLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLogger: TransportLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Limits {
  /** A frame announcing more payload than this closes the connection. */
  maxFrameBytes: number;
  /** Past these, MsgApp/MsgSnap to the peer are dropped (raft probes again); other messages are kept. */
  maxQueueMsgs: number;
  maxQueueBytes: number;
  /** We stop handing frames to a socket whose unsent bytes exceed this, until it drains. */
  writeHighWaterBytes: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  snapshotChunkBytes: number;
  /** Snapshots are reassembled in memory, so their size is bounded. */
  maxSnapshotBytes: number;
  handshakeTimeoutMs: number;
  /** A snapshot connection with no traffic for this long is abandoned. */
  snapshotIdleTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: 64 << 20,
  maxQueueMsgs: 4096,
  maxQueueBytes: 64 << 20,
  writeHighWaterBytes: 8 << 20,
  backoffMinMs: 50,
  backoffMaxMs: 2000,
  snapshotChunkBytes: 1 << 20,
  maxSnapshotBytes: Math.min(constants.MAX_LENGTH, 2 ** 32 - 1),
  handshakeTimeoutMs: 5000,
  snapshotIdleTimeoutMs: 30_000,
};

export interface PeerAddr {
  host: string;
  port: number;
  /** An https:// URL: dialed over TLS. */
  secure?: boolean;
}

/** Accepts `http://host:port`, `https://host:port`, `tcp://host:port` or `host:port`. */
export function parsePeerUrl(url: string): PeerAddr {
  const u = new URL(url.includes('://') ? url : `tcp://${url}`);
  const port = Number(u.port);
  if (!u.hostname || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`invalid peer URL ${JSON.stringify(url)}: need host:port`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return u.protocol === 'https:' ? { host, port, secure: true } : { host, port };
}

export const hex = (id: bigint): string => id.toString(16);
