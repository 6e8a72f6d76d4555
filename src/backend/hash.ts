// The hash of a whole backend (etcd's backend.Hash behind Maintenance.Hash): crc32c over every bucket
// in name order, each bucket's name and then its keys and values in key order. Keys that differ between
// members holding the same data are left out: the applied index and term (etcd ignores its
// consistent_index) and the member's own ID.
import { crc32c } from '../pkg/crc32c.ts';
import type { Backend } from './backend.ts';
import { BUCKETS, META_CONSISTENT_INDEX, META_MEMBER_ID, META_TERM } from './schema.ts';

const IGNORED_META = [META_CONSISTENT_INDEX, META_TERM, META_MEMBER_ID];

/**
 * Hashes what `backend` has committed (call after commit()). One synchronous pass: fine for what
 * Maintenance.Hash is used for (tests and debugging); the member blocks for the pass.
 */
export function hashBackend(backend: Backend): number {
  let h = 0;
  for (const bucket of [...BUCKETS].sort()) {
    h = crc32c(Buffer.from(bucket), h);
    backend.forEach(bucket, undefined, undefined, (k, v) => {
      if (bucket === 'meta' && IGNORED_META.some((x) => x.equals(k))) return;
      h = crc32c(v, crc32c(k, h));
    });
  }
  return h;
}
