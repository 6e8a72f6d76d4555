// Physical compaction: after the index has dropped old revisions, delete them from the backend in
// batches, committing and yielding between batches so writes keep flowing.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { META_FINISHED_COMPACT } from '../backend/schema.ts';
import { bytesToRev, revKey, revToBytes } from './revision.ts';
import type { Backend } from '../backend/backend.ts';
import type { TreeIndex } from './index.ts';

/** What compaction works on (the store passes itself). */
export interface CompactionTarget {
  index: TreeIndex;
  backend: Backend;
}

export const COMPACTION_BATCH = 1000;

export async function runCompaction(s: CompactionTarget, rev: number): Promise<void> {
  const keep = s.index.compact(rev);
  const backend = s.backend;
  await backend.commit();
  const end = revToBytes({ main: rev + 1, sub: 0 });
  let start: Buffer | undefined;
  for (;;) {
    const doomed: Buffer[] = [];
    let last: Buffer | undefined;
    let seen = 0;
    backend.forEach('key', start, end, (k) => {
      last = Buffer.from(k);
      seen++;
      if (!keep.has(revKey(bytesToRev(k)))) doomed.push(last);
      return seen < COMPACTION_BATCH;
    });
    for (const k of doomed) backend.del('key', k);
    await backend.commit();
    if (seen < COMPACTION_BATCH || !last) break;
    start = Buffer.concat([last, Buffer.from([0])]);
    await yieldToLoop();
  }
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(rev));
  backend.put('meta', META_FINISHED_COMPACT, b);
  await backend.commit();
}
