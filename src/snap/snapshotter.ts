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
import { snapDbFsync, snapDbSaveTotal } from '../pkg/metrics.ts';

/** The snapshot directory of a data directory. */
export const snapDir = (dataDir: string): string => join(dataDir, 'member', 'snap');

const snapName = (index: number) => `${index.toString(16).padStart(16, '0')}.snap.db`;

export class Snapshotter {
  constructor(readonly dir: string) {}

  /** Writes a received snapshot's data durably before the WAL records the snapshot. */
  save(index: number, data: Uint8Array): void {
    const { dir } = this;
    const started = performance.now();
    mkdirSync(dir, { recursive: true });
    const fd = openSync(join(dir, snapName(index)), 'w');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      const syncing = performance.now();
      fsyncSync(fd);
      snapDbFsync.observe((performance.now() - syncing) / 1000);
    } finally {
      closeSync(fd);
    }
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    snapDbSaveTotal.observe((performance.now() - started) / 1000);
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

  /**
   * --max-snapshots (etcd's purge of snapshot files): removes the oldest snapshot files while more than
   * `max` remain (0: keep all), never one above `applied` (a file the backend does not hold yet is
   * the only copy of that state). Returns the names removed.
   */
  purge(max: number, applied: number): string[] {
    if (max === 0) return [];
    const files = this.files();
    const removed: string[] = [];
    while (files.length > max && files[0]!.index <= applied) {
      const f = files.shift()!;
      unlinkSync(join(this.dir, f.name));
      removed.push(f.name);
    }
    return removed;
  }

  /** The snapshot data files, oldest first. */
  private files(): { name: string; index: number }[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return names
      .flatMap((name) => {
        const m = /^([0-9a-f]{16})\.snap\.db$/.exec(name);
        return m ? [{ name, index: parseInt(m[1]!, 16) }] : [];
      })
      .sort((a, b) => a.index - b.index);
  }

  /** Removes snapshot files at or below `index` (the backend holding them is synced). */
  release(index: number): void {
    for (const f of this.files()) if (f.index <= index) unlinkSync(join(this.dir, f.name));
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
