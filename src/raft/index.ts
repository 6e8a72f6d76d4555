// The public API of the raft core.
export * from './raftpb.ts';
export * from './errors.ts';
export { MemoryStorage, type Storage } from './storage.ts';
export { RaftLog } from './log.ts';
export {
  Raft,
  CAMPAIGN_TRANSFER_CTX,
  type Config,
  type Rand,
  type RaftLogger,
  type CampaignType,
} from './raft.ts';
export { RawNode, SnapshotStatus, mustSync, type Ready } from './rawnode.ts';
export { ReadOnlyOption, type ReadState } from './read_only.ts';
export { StateType, type SoftState, type BasicStatus, type Status } from './status.ts';
export { NO_LIMIT, limitSize } from './util.ts';
export { Progress, ProgressStateType } from './tracker/progress.ts';
export type { TrackerConfig } from './tracker/tracker.ts';
export * from './describe.ts';
