// The member's state machine: the stores that applying the log changes (KV, leases, members, alarms,
// auth), all over one backend. A
// snapshot from the leader replaces the backend's content; reload() then rebuilds the stores over it,
// so every part of the member reads `stores.kv` and `stores.cluster` when it uses them, never a copy.
// The applied index is the store's consistent index: only the apply path (apply/) moves it, in the same
// backend batch as each entry's changes, so a restart re-applies exactly what the backend lacks.
import type { Backend } from '../backend/backend.ts';
import { KVStore } from '../mvcc/kvstore.ts';
import { WatchableStore } from '../mvcc/watchable_store.ts';
import type { Lessor } from '../lease/lessor.ts';
import { loadLeases } from '../lease/lease_store.ts';
import { RaftCluster } from '../membership/cluster.ts';
import { watchSource } from './watch_source.ts';
import { AlarmStore } from './alarm_store.ts';
import type { AuthStore } from '../auth/store.ts';

export class Stores {
  readonly watchable: WatchableStore;
  readonly alarms: AlarmStore;

  constructor(
    readonly backend: Backend,
    public kv: KVStore,
    public cluster: RaftCluster,
    readonly lessor: Lessor,
    /** Users, roles, permissions and whether auth is enabled (one object, reloaded in place). */
    readonly auth: AuthStore,
    fatal: (err: unknown) => void,
  ) {
    this.watchable = new WatchableStore(
      watchSource(() => this.kv, backend),
      (err) => fatal(err),
    );
    kv.onTxnEnd((events, rev) => this.watchable.notify(events, rev));
    restoreLeases(backend, kv, lessor);
    this.alarms = new AlarmStore(backend);
  }

  /** The index of the last entry applied: the store's consistent index. */
  appliedIndex(): number {
    return this.kv.consistentIndex();
  }

  /** The store's current revision. */
  revision(): number {
    return this.kv.rev();
  }

  /** Before a snapshot's data replaces the backend: leases write through to it, so they go first. */
  beforeRestore(): void {
    for (const id of this.lessor.ids()) this.lessor.revoke(id);
  }

  /** The backend now holds a snapshot from the leader: rebuild the stores over it. */
  async reload(): Promise<void> {
    const { backend } = this;
    const oldRev = this.kv.rev();
    const kv = await KVStore.open(backend);
    kv.onTxnEnd((events, rev) => this.watchable.notify(events, rev));
    this.kv = kv;
    restoreLeases(backend, kv, this.lessor);
    const cluster = RaftCluster.load(backend);
    if (cluster) this.cluster = cluster;
    this.alarms.reload();
    this.auth.reload();
    // Watchers learn what the snapshot skipped over as one batch read back from the key bucket.
    if (kv.rev() > oldRev && kv.compactRev() <= oldRev) {
      const src = watchSource(() => kv, backend);
      this.watchable.notify(await src.history(oldRev + 1, kv.rev()), kv.rev());
    }
  }
}

/** The lessor learns the persisted leases again, and which keys hang on which lease. */
function restoreLeases(backend: Backend, kv: KVStore, lessor: Lessor): void {
  for (const l of loadLeases(backend)) lessor.restore(l.id, l.ttl, l.remainingTtl);
  // Found while the store rebuilt its index: no second read of every value.
  for (const [key, lease] of kv.takeLeasedKeys()) lessor.attach(lease, key);
}
