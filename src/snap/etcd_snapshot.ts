// The backend as an etcd 3.4 snapshot: etcd's buckets (etcd_buckets.ts) written as a bbolt file
// (bbolt/writer.ts), cut in etcd's 32 KiB chunks for Maintenance.Snapshot; the caller appends the
// sha256 of the whole file, as etcd's server does. Both passes read one view of the backend.
import { setImmediate as tick } from 'node:timers/promises';
import type { BackendView } from '../backend/backend.ts';
import { pages, planning } from '../bbolt/writer.ts';
import { etcdBuckets } from './etcd_buckets.ts';

/** etcd's snapshotSendBufferSize. */
export const SNAPSHOT_CHUNK = 32 * 1024;

export interface EtcdSnapshot {
  /** Bytes of the bbolt file (without the sha256 that follows it on the wire). */
  readonly size: number;
  /** The file in chunks of SNAPSHOT_CHUNK bytes (the last may be shorter), read lazily from the view. */
  readonly chunks: Iterator<Buffer>;
}

/**
 * Plans the file over `view` (pausing for the event loop as it goes) and returns its size and lazy
 * chunks; `view` must stay open until the chunks are read.
 */
export async function etcdSnapshotOf(view: BackendView): Promise<EtcdSnapshot> {
  const buckets = etcdBuckets((b) => view.entries(b));
  const it = planning(buckets);
  let r = it.next();
  while (!r.done) {
    await tick();
    r = it.next();
  }
  return { size: r.value.size, chunks: rechunk(pages(buckets, r.value), SNAPSHOT_CHUNK) };
}

/** Re-cuts a stream of buffers into `size`-byte buffers (the last may be shorter). */
export function* rechunk(src: Iterable<Buffer>, size: number): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let fill = 0;
  for (const b of src) {
    let off = 0;
    while (off < b.length) {
      const n = Math.min(size - fill, b.length - off);
      b.copy(buf, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}
