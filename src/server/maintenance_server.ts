// The Maintenance commands that work on the backend as a whole: Hash and Defragment.
import type { Logger } from 'pino';
import type { Backend } from '../backend/backend.ts';
import { hashBackend } from '../backend/hash.ts';
import { backendDefrag, counts } from '../pkg/metrics.ts';

/** etcd's store.Hash: the batch is committed first, so the hash covers every applied write. */
export async function hashNow(stores: {
  backend: Backend;
  kv: { rev(): number };
}): Promise<{ hash: number; revision: number }> {
  await stores.backend.commit();
  return { hash: hashBackend(stores.backend), revision: stores.kv.rev() };
}

/**
 * etcd's backend defrag, but online (Backend.defragment: requests go on meanwhile), logged, timed and
 * counted as etcd's (etcd_disk_backend_defrag_duration_seconds, etcd_disk_defrag_inflight).
 */
export async function defragment(backend: Backend, log: Logger): Promise<void> {
  const path = backend.path;
  log.info(
    { path, 'current-db-size-bytes': backend.size(), 'current-db-size-in-use-bytes': backend.sizeInUse() },
    'defragmenting',
  );
  const started = performance.now();
  counts.defragInflight = 1;
  try {
    const r = await backend.defragment();
    const took = (performance.now() - started) / 1000;
    backendDefrag.observe(took);
    log.info(
      {
        path,
        'current-db-size-bytes-diff': r.sizeAfter - r.sizeBefore,
        'current-db-size-bytes': r.sizeAfter,
        'current-db-size-in-use-bytes': backend.sizeInUse(),
        took: `${took.toFixed(3)}s`,
      },
      'defragmented',
    );
  } finally {
    counts.defragInflight = 0;
  }
}
