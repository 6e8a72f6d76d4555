// Raft snapshots of this member (placeholder until snapshots land): the policy that decides when to
// take one, the data a leader sends a lagging follower, and the restore on the follower side.
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import type { KVStore } from '../mvcc/kvstore.ts';
import type { ConfState, MemoryStorage, Message, Snapshot } from '../raft/index.ts';
import type { Wal } from '../wal/wal.ts';

export interface SnapshotDeps {
  storage: MemoryStorage;
  wal: Wal;
  backend: Backend;
  kv: KVStore;
  applied(): number;
  confState(): ConfState;
  log: Logger;
  snapshotCount: number;
  catchupEntries: number;
  onRestored(index: number): void;
}

export class SnapshotPolicy {
  constructor(private readonly deps: SnapshotDeps) {}

  maybeSnapshot(): void {}

  fillSnapshot(m: Message): Message {
    return m;
  }

  restore(snap: Snapshot): void {
    throw new Error(
      `snapshot restore at ${snap.metadata.index} is not implemented (${this.deps.snapshotCount})`,
    );
  }
}
