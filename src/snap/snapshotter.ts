// Snapshot data files (etcd's snap.Snapshotter): a follower keeps the data of a snapshot received from
// the leader in <data-dir>/member/snap/<index>.snap.db, fsynced before the WAL records the snapshot, and
// removes it once the backend holding that data is synced. A crash in between finds the file on start.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** The snapshot directory of a data directory. */
export const snapDir = (dataDir: string): string => join(dataDir, 'member', 'snap');

const snapName = (index: number) => `${index.toString(16).padStart(16, '0')}.snap.db`;

export class Snapshotter {
  constructor(readonly dir: string) {}

  /** Writes a received snapshot's data durably before the WAL records the snapshot. */
  save(index: number, data: Uint8Array): void {
    const { dir } = this;
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, snapName(index)), 'w');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  }

  /** The data of the snapshot file at `index`, if it is still there. */
  load(index: number): Buffer | undefined {
    try {
      return readFileSync(join(this.dir, snapName(index)));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err; // an unreadable snapshot file is not a missing one
    }
  }

  /** Removes snapshot files at or below `index` (the backend holding them is synced). */
  release(index: number): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const n of names) {
      const m = /^([0-9a-f]{16})\.snap\.db$/.exec(n);
      if (m && parseInt(m[1]!, 16) <= index) unlinkSync(join(this.dir, n));
    }
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
