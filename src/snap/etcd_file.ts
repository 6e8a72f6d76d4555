// An etcd snapshot file on disk: a bbolt db, usually followed by the sha256 of the db (what
// Maintenance.Snapshot appends and etcdctl saves). The trailer check is etcd 3.4's (a file whose size
// is 32 past a multiple of 512 has one), and `snapshot status` counts as clientv3/snapshot does.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { crc32c } from '../pkg/crc32c.ts';
import { BoltReader } from '../bbolt/reader.ts';

export const SHA256_SIZE = 32;

/** A snapshot etcd would refuse, with etcd's words where it has them. */
export class SnapshotFileError extends Error {}

/** etcd's hasChecksum: 512 is the smallest sector size, and a bbolt file is whole pages. */
export const hasChecksum = (size: number): boolean => size % 512 === SHA256_SIZE;

/**
 * Checks the sha256 trailer of `path` and returns the bytes of the db before it. `onProgress` gets the
 * bytes hashed so far. etcd's messages: a file without a trailer needs --skip-hash-check.
 */
export async function verifySnapshotFile(
  path: string,
  skipHashCheck: boolean,
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const size = statSync(path).size;
  const hashed = hasChecksum(size);
  if (!hashed && !skipHashCheck)
    throw new SnapshotFileError('snapshot missing hash but --skip-hash-check=false');
  const dbSize = hashed ? size - SHA256_SIZE : size;
  if (!hashed || skipHashCheck) return dbSize;
  const h = createHash('sha256');
  let done = 0;
  let trailer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const inDb = Math.max(0, Math.min(chunk.length, dbSize - done));
    if (inDb > 0) h.update(chunk.subarray(0, inDb));
    if (inDb < chunk.length) trailer = Buffer.concat([trailer, chunk.subarray(inDb)]);
    done += chunk.length;
    onProgress?.(Math.min(done, dbSize), dbSize);
  }
  const got = h.digest();
  if (!got.equals(trailer)) {
    throw new SnapshotFileError(`expected sha256 ${goBytes(trailer)}, got ${goBytes(got)}`);
  }
  return dbSize;
}

/** A byte slice as Go's %v prints it: [1 2 3]. */
const goBytes = (b: Buffer) => `[${[...b].join(' ')}]`;

export interface SnapshotStatus {
  /** crc32 (Castagnoli) over every bucket's name, keys and values, in file order. */
  hash: number;
  /** The main revision of the key bucket's last key. */
  revision: number;
  totalKey: number;
  /** bbolt's tx.Size(): the high-water mark times the page size. */
  totalSize: number;
}

/** etcdctl/etcdutl `snapshot status`: what clientv3/snapshot's Status computes. */
export function snapshotStatus(path: string, onProgress?: (keys: number) => void): SnapshotStatus {
  const r = BoltReader.open(path);
  try {
    let hash = 0;
    let revision = 0;
    let totalKey = 0;
    for (const name of r.bucketNames()) {
      hash = crc32c(name, hash);
      const isKey = name.toString('latin1') === 'key';
      for (const [k, v] of r.records(name, false)) {
        hash = crc32c(v, crc32c(k, hash));
        if (isKey && k.length >= 8) revision = Number(k.readBigUInt64BE(0));
        if (++totalKey % 65536 === 0) onProgress?.(totalKey);
      }
    }
    return { hash, revision, totalKey, totalSize: r.size };
  } finally {
    r.close();
  }
}
