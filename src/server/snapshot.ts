// Raft snapshots of this member. The data of a snapshot is the backend itself, so taking one costs
// only metadata: every --snapshot-count applied entries the raft storage gets a snapshot at the applied
// index and is compacted, keeping --snapshot-catchup-entries for slow followers; once the backend is
// synced, the WAL records the snapshot and releases the segments before it. A follower behind the
// leader's first index gets a MsgSnap whose data is an export of the leader's backend at its applied
// index (etcd's "merged" snapshot); the follower keeps it in a file, records it in the WAL, replaces
// its backend with it and reloads the stores built on the backend.
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import { type ConfState, type MemoryStorage, type Message, type Snapshot } from '../raft/index.ts';
import type { SnapshotMarker, Wal } from '../wal/wal.ts';
import { exportBackend, importBackend } from '../snap/backend_snapshot.ts';
import type { Snapshotter } from '../snap/snapshotter.ts';
import { idHex } from '../pkg/ids.ts';
import { backendSnapshot, counts, snapSaveTotal } from '../pkg/metrics.ts';

/** What snapshots need of the raft node. */
export interface SnapshotRaft {
  /** Runs `fn` inside the Ready loop, between Readys (the WAL takes one writer at a time). */
  walTask(fn: () => Promise<void>): void;
  /** Writes the marker with the newest hard state (inside a walTask). */
  saveSnapshotMarker(marker: SnapshotMarker): Promise<void>;
  confState(): ConfState;
}

/** What snapshots need of the state machine (server/stores.ts). */
export interface SnapshotStores {
  readonly backend: Backend;
  appliedIndex(): number;
  revision(): number;
  /** Before a received snapshot replaces the backend: drop state that writes through to it (leases). */
  beforeRestore(): void;
  /** After the backend holds the snapshot: rebuild the stores over it. */
  reload(): Promise<void>;
}

export interface SnapshotDeps {
  raft: SnapshotRaft;
  storage: MemoryStorage;
  wal: Wal;
  stores: SnapshotStores;
  /** Removes a received snapshot's data file once the backend holding it is synced. */
  snapshotter: Pick<Snapshotter, 'release'>;
  log: Logger;
  snapshotCount: number;
  catchupEntries: number;
  fatal(err: unknown): void;
}

export class SnapshotPolicy {
  private lastIndex: number;
  private busy = false;

  constructor(private readonly deps: SnapshotDeps) {
    this.lastIndex = deps.storage.snapshot().metadata.index;
  }

  /** After each Ready: take a snapshot every snapshotCount applied entries. */
  maybeSnapshot(): void {
    const { deps } = this;
    const applied = deps.stores.appliedIndex();
    if (this.busy || applied - this.lastIndex < deps.snapshotCount) return;
    if (applied > deps.storage.lastIndex()) return;
    this.busy = true;
    const started = performance.now();
    const cs = deps.raft.confState();
    const term = deps.storage.term(applied);
    deps.storage.createSnapshot(applied, cs, new Uint8Array(0));
    this.lastIndex = applied;
    const compactTo = applied - deps.catchupEntries;
    if (compactTo > deps.storage.firstIndex()) deps.storage.compact(compactTo);
    deps.log.info(
      { 'snapshot-index': applied, 'compact-index': Math.max(compactTo, 0) },
      'triggering snapshot; compacted raft logs',
    );
    // The WAL may drop what the backend holds only once the backend is on disk.
    deps.stores.backend
      .sync()
      .then(() =>
        deps.raft.walTask(async () => {
          await deps.raft.saveSnapshotMarker({ index: applied, term, confState: cs });
          snapSaveTotal.observe((performance.now() - started) / 1000);
          const released = deps.wal.releaseTo(applied);
          deps.log.info({ 'snapshot-index': applied, 'released-segments': released }, 'saved snapshot');
        }),
      )
      .catch((err: unknown) => deps.fatal(err))
      .finally(() => {
        this.busy = false;
      });
  }

  /**
   * A MsgSnap carries the backend as of now (applied index, its term and the current configuration),
   * not the possibly older stored snapshot. The export reads only what LMDB has committed, so it runs
   * inside the Ready loop (nothing applies meanwhile) once every batch handed to LMDB has landed: a
   * batch still in flight would be missing from the data while the applied index counts it, and the
   * follower would never apply those entries.
   */
  fillSnapshot(m: Message): Promise<Message> {
    const { deps } = this;
    const { backend } = deps.stores;
    return new Promise((resolve, reject) => {
      deps.raft.walTask(async () => {
        try {
          do await backend.commit();
          while (backend.pendingWrites() > 0);
          const started = performance.now();
          const data = exportBackend(backend);
          backendSnapshot.observe((performance.now() - started) / 1000);
          const index = deps.stores.appliedIndex();
          const term = deps.storage.term(index);
          deps.log.info(
            { to: idHex(m.to), 'snapshot-index': index, bytes: data.length },
            'sending database snapshot',
          );
          resolve({ ...m, snapshot: { data, metadata: { index, term, confState: deps.raft.confState() } } });
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** Follower, after the WAL recorded the snapshot: the backend becomes the snapshot's data. */
  async restore(snap: Snapshot): Promise<void> {
    const { deps } = this;
    const index = snap.metadata.index;
    deps.log.info({ 'snapshot-index': index, bytes: snap.data.length }, 'applying snapshot from the leader');
    counts.snapshotApplyInProgress = 1;
    try {
      deps.stores.beforeRestore();
      importBackend(deps.stores.backend, snap.data);
      await deps.stores.backend.sync();
      await deps.stores.reload();
    } finally {
      counts.snapshotApplyInProgress = 0;
    }
    deps.snapshotter.release(index);
    this.lastIndex = index;
    deps.log.info({ 'snapshot-index': index, revision: deps.stores.revision() }, 'applied snapshot');
  }
}
