// The configuration of a raft node, its injected randomness and logger, and validation.
import { NONE, type NodeId } from './raftpb.ts';
import { ReadOnlyOption } from './read_only.ts';
import type { Storage } from './storage.ts';
import { NO_LIMIT } from './util.ts';

export interface Rand {
  /** Uniform in [0, n). */
  intn(n: number): number;
}

export interface RaftLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const noopLogger: RaftLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface Config {
  id: NodeId;
  /** Ticks a follower waits without hearing from a leader before campaigning (randomised in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** The last applied index when restarting; entries up to it are not handed out again. */
  applied?: number;
  /** Byte limit of one MsgApp's entries (0: one entry per message). Default: no limit. */
  maxSizePerMsg?: number;
  /** Byte limit of committed entries handed out but not yet applied. Default: maxSizePerMsg, else no limit. */
  maxCommittedSizePerReady?: number;
  /** Payload bytes of uncommitted entries a leader accepts before dropping proposals. Default: no limit. */
  maxUncommittedEntriesSize?: number;
  /** MsgApps in flight per follower in StateReplicate. */
  maxInflightMsgs: number;
  /** Bytes in flight per follower (0 or absent: no limit). */
  maxInflightBytes?: number;
  checkQuorum?: boolean;
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  disableProposalForwarding?: boolean;
  /** A leader removed from (or demoted in) the configuration steps down. */
  stepDownOnRemoval?: boolean;
  rand: Rand;
  logger?: RaftLogger;
}

export function validate(c: Config): void {
  if (c.id === NONE) throw new Error('cannot use none as id');
  if (c.heartbeatTick <= 0) throw new Error('heartbeat tick must be greater than 0');
  if (c.electionTick <= c.heartbeatTick) throw new Error('election tick must be greater than heartbeat tick');
  if (c.maxInflightMsgs <= 0) throw new Error('max inflight messages must be greater than 0');
  const maxMsg = c.maxSizePerMsg ?? NO_LIMIT;
  if ((c.maxInflightBytes ?? 0) > 0 && c.maxInflightBytes! < maxMsg) {
    throw new Error('max inflight bytes must be >= max message size');
  }
  if (c.readOnlyOption === ReadOnlyOption.ReadOnlyLeaseBased && !c.checkQuorum) {
    throw new Error('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
}
