// What the watchers read from the store: committed history by revision (the key bucket is keyed by
// revision) and the previous value of a key for prev_kv.
import type { Backend } from '../backend/backend.ts';
import type { KVStore } from '../mvcc/kvstore.ts';
import { decodeKeyValue } from '../mvcc/kv_codec.ts';
import { ErrCompacted } from '../mvcc/errors.ts';
import { bytesToRev, isTombstone, revToBytes } from '../mvcc/revision.ts';
import type { WatchEvent, WatchKV, WatchSource } from '../mvcc/watchable_store.ts';

/** `kv` is a getter: a snapshot from the leader replaces the store. */
export function watchSource(kv: () => KVStore, backend: Backend): WatchSource {
  return {
    rev: () => kv().rev(),
    compactRev: () => kv().compactRev(),
    async history(from: number, to: number): Promise<WatchEvent[]> {
      // Everything up to `to` must be in LMDB before it is read by revision.
      await backend.commit();
      const out: WatchEvent[] = [];
      backend.forEach(
        'key',
        revToBytes({ main: from, sub: 0 }),
        revToBytes({ main: to + 1, sub: 0 }),
        (k, v) => {
          const kv = decodeKeyValue(v);
          if (!isTombstone(k)) return void out.push({ type: 'PUT', kv });
          // A stored tombstone holds its key only (etcd's form): the event's mod revision is the
          // revision it is stored at, as etcd's kvsToEvents sets it.
          kv.modRevision = bytesToRev(k).main;
          out.push({ type: 'DELETE', kv });
        },
      );
      return out;
    },
    prevKv(key: Buffer, rev: number): WatchKV | undefined {
      try {
        return kv().range(key, undefined, { rev: rev - 1 }).kvs[0];
      } catch (err) {
        if (!(err instanceof ErrCompacted)) throw err;
        return undefined; // compacted: prev_kv is omitted
      }
    },
  };
}
