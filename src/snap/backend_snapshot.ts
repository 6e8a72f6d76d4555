// The data of a raft snapshot is the backend itself: every bucket exported in one synchronous pass
// (nothing commits meanwhile), imported on a follower by replacing every bucket. The exported form:
// "TSNP1" then, per bucket, [u8 name length][name][u32 record count] and records [u32 klen][key]
// [u32 vlen][value]. A received snapshot is kept as a file (snapshotter.ts) until the backend holding
// it is synced.
import type { Backend } from '../backend/backend.ts';
import { BUCKETS, META_MEMBER_ID, type Bucket } from '../backend/schema.ts';

const MAGIC = Buffer.from('TSNP1');

/** The member's own identity in the meta bucket is never sent, never replaced by a snapshot. */
const isLocal = (b: Bucket, k: Buffer) => b === 'meta' && k.equals(META_MEMBER_ID);

export class SnapshotFormatError extends Error {}

/** Exports every committed bucket. Call only when nothing is pending (after commit()). */
export function exportBackend(backend: Backend): Buffer {
  // One buffer per record, appended as we go: a backend holds far more records than a call may take
  // arguments, so nothing here spreads an array.
  const parts: Buffer[] = [MAGIC];
  for (const b of BUCKETS) {
    const head = Buffer.allocUnsafe(1 + b.length + 4);
    head[0] = b.length;
    head.write(b, 1, 'latin1');
    parts.push(head);
    let n = 0;
    backend.forEach(b, undefined, undefined, (k, v) => {
      if (isLocal(b, k)) return;
      const rec = Buffer.allocUnsafe(8 + k.length + v.length);
      rec.writeUInt32LE(k.length, 0);
      rec.set(k, 4);
      rec.writeUInt32LE(v.length, 4 + k.length);
      rec.set(v, 8 + k.length);
      parts.push(rec);
      n++;
    });
    head.writeUInt32LE(n, 1 + b.length);
  }
  return Buffer.concat(parts);
}

/** Replaces the content of every bucket with the snapshot's (into the pending batch; commit after). */
export function importBackend(backend: Backend, data: Uint8Array): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new SnapshotFormatError('snapshot: bad magic');
  const incoming = new Map<Bucket, [Buffer, Buffer][]>();
  let off = MAGIC.length;
  const need = (n: number) => {
    if (off + n > buf.length) throw new SnapshotFormatError('snapshot: truncated');
  };
  while (off < buf.length) {
    need(1);
    const nameLen = buf[off]!;
    need(1 + nameLen + 4);
    const name = buf.toString('latin1', off + 1, off + 1 + nameLen);
    if (!(BUCKETS as readonly string[]).includes(name))
      throw new SnapshotFormatError(`snapshot: bucket ${name}`);
    let count = buf.readUInt32LE(off + 1 + nameLen);
    off += 1 + nameLen + 4;
    const recs: [Buffer, Buffer][] = [];
    while (count-- > 0) {
      need(4);
      const kl = buf.readUInt32LE(off);
      need(4 + kl + 4);
      const k = buf.subarray(off + 4, off + 4 + kl);
      const vl = buf.readUInt32LE(off + 4 + kl);
      need(4 + kl + 4 + vl);
      const v = buf.subarray(off + 8 + kl, off + 8 + kl + vl);
      recs.push([k, v]);
      off += 8 + kl + vl;
    }
    incoming.set(name as Bucket, recs);
  }
  for (const b of BUCKETS) {
    const stale: Buffer[] = [];
    backend.forEach(b, undefined, undefined, (k) => {
      if (!isLocal(b, k)) stale.push(Buffer.from(k));
    });
    for (const k of stale) backend.del(b, k);
    for (const [k, v] of incoming.get(b) ?? []) if (!isLocal(b, k)) backend.put(b, k, v);
  }
}
