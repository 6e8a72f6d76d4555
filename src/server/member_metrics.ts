// What the member shows of itself to /metrics and /debug/vars: its state, read when scraped.
import { ProgressStateType, StateType, type Status } from '../raft/index.ts';
import { idHex } from '../pkg/ids.ts';
import type { MemberSource } from '../pkg/metrics.ts';
import type { Stores } from './stores.ts';

/** What the metrics read of the raft node. */
export interface MetricsRaft {
  lead(): bigint;
  isLeader(): boolean;
  isLearner(): boolean;
  committedIndex(): number;
}

export function memberSource(
  memberId: bigint,
  raft: MetricsRaft,
  stores: Stores,
  waiting: () => number,
  connectedPeers: () => string[],
  /** The quota in force (server/quota.ts quotaBytes: etcd's gauge shows a negative one as given). */
  quotaBytes: number,
): MemberSource {
  const id = idHex(memberId);
  return {
    id: () => id,
    hasLeader: () => raft.lead() !== 0n,
    isLeader: () => raft.isLeader(),
    isLearner: () => raft.isLearner(),
    proposalsCommitted: () => raft.committedIndex(),
    proposalsApplied: () => stores.appliedIndex(),
    proposalsPending: waiting,
    currentRevision: () => stores.kv.rev(),
    compactRevision: () => (stores.kv.compactRev() > 0 ? stores.kv.compactRev() : -1),
    keys: () => stores.kv.keyCount(),
    dbSize: () => stores.backend.size(),
    dbSizeInUse: () => stores.backend.sizeInUse(),
    openReadTxns: () => 0,
    watchers: () => stores.watchable.watcherCounts().watchers,
    slowWatchers: () => stores.watchable.watcherCounts().slow,
    pendingEvents: () => 0,
    quotaBackendBytes: () => quotaBytes,
    authRevision: () => 1,
    activePeers: connectedPeers,
  };
}

const PROGRESS_STATE: Record<ProgressStateType, string> = {
  [ProgressStateType.StateProbe]: 'StateProbe',
  [ProgressStateType.StateReplicate]: 'StateReplicate',
  [ProgressStateType.StateSnapshot]: 'StateSnapshot',
};

/** The raft status in the shape of etcd's raft.Status JSON (IDs in hex, the role by name). */
export function raftStatusJson(st: Status): unknown {
  const { basic } = st;
  const progress: Record<string, { match: number; next: number; state: string }> = {};
  for (const [id, pr] of st.progress) {
    progress[idHex(id)] = { match: pr.match, next: pr.next, state: PROGRESS_STATE[pr.state] };
  }
  return {
    id: idHex(basic.id),
    term: basic.hardState.term,
    vote: idHex(basic.hardState.vote),
    commit: basic.hardState.commit,
    lead: idHex(basic.softState.lead),
    raftState: StateType[basic.softState.raftState],
    applied: basic.applied,
    progress,
    leadtransferee: idHex(basic.leadTransferee),
  };
}
