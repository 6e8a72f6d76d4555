// The write-ahead log: the source of truth for the raft log. Segment files of preallocated size hold
// framed, crc-chained records; every save() is one synchronous-data write, O_DSYNC (group commit). Opening
// repairs a torn tail (a crash mid-write) by truncating to the last complete record, and refuses to
// start on corruption anywhere else.
import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '../pkg/crc32c.ts';
import { failpoint } from '../pkg/failpoint.ts';
import {
  HEADER_BYTES,
  RecordType,
  decodeEntry,
  decodeLegacyEntry,
  decodeHardState,
  decodeSnapshot,
  encodeCrc,
  frame,
  frameBatch,
  type Entry,
  type HardState,
  type SnapshotMarker,
} from './record.ts';
import { counts, walFsync } from '../pkg/metrics.ts';

export type { Entry, HardState, SnapshotMarker } from './record.ts';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** etcd's --max-wals default: segment files kept once they are no longer needed (0: all of them). */
export const DEFAULT_MAX_FILES = 5;
/** No single record may be larger than this; a bigger length field is corruption, not a torn write. */
const MAX_RECORD_BYTES = 32 * 1024 * 1024;

/**
 * Segments are opened with O_DSYNC: each write returns only once its data is on disk, so a batch costs
 * one write call (one trip to the thread pool) instead of a write and an fdatasync.
 */
const SYNC_WRITE_FLAGS = constants.O_RDWR | constants.O_DSYNC;

export class WalCorruptError extends Error {
  constructor(file: string, offset: number, why: string) {
    super(`wal: corrupt record in ${file} at offset ${offset}: ${why}; refusing to start`);
    this.name = 'WalCorruptError';
  }
}

export interface WalContents {
  hardState: HardState;
  snapshot: SnapshotMarker | undefined;
  /** Entries after the snapshot, in index order; later writes of an index replace earlier ones. */
  entries: Entry[];
  /** Bytes dropped from a torn tail on open (0 when the log was clean). */
  repairedBytes: number;
}

interface Segment {
  name: string;
  seq: number;
  firstIndex: number;
}

const segmentName = (seq: number, firstIndex: number) =>
  `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;

function parseSegmentName(name: string): Segment | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (!m) return undefined;
  return { name, seq: parseInt(m[1]!, 16), firstIndex: parseInt(m[2]!, 16) };
}

function allZero(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface WalOptions {
  segmentBytes?: number;
  /**
   * --max-wals: segment files to keep (0: keep them all). As etcd's purge loop does, the oldest files
   * beyond this count are removed, but only those that hold nothing after the last snapshot whose
   * backend is synced (releaseTo); needed files are kept even when they are more than this.
   */
  maxFiles?: number;
}

/** Whether `dir` holds WAL segment files. */
export function walExists(dir: string): boolean {
  try {
    return readdirSync(dir).some((n) => parseSegmentName(n) !== undefined);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export class Wal {
  private crc = 0;
  private writing = false;
  private closed = false;
  /** Entries at or below this index are held by a synced backend: segments holding only those may go. */
  private released = 0;
  private maxFiles = DEFAULT_MAX_FILES;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private segments: Segment[],
    private fh: FileHandle,
    private offset: number,
    private lastIndex: number,
    crc: number,
  ) {
    this.crc = crc;
  }

  /** Opens (creating if needed) the WAL in `dir` and returns it with everything it holds. */
  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; contents: WalContents }> {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
    mkdirSync(dir, { recursive: true });
    const segments = readdirSync(dir)
      .map(parseSegmentName)
      .filter((s): s is Segment => s !== undefined)
      .sort((a, b) => a.seq - b.seq);
    const contents: WalContents = {
      hardState: { term: 0, vote: 0n, commit: 0 },
      snapshot: undefined,
      entries: [],
      repairedBytes: 0,
    };
    if (segments.length === 0) {
      const seg = { name: segmentName(0, 0), seq: 0, firstIndex: 0 };
      const fh = await createSegment(dir, seg.name, segmentBytes, 0);
      const w = new Wal(dir, segmentBytes, [seg], fh, 0, 0, 0);
      w.maxFiles = maxFiles;
      w.offset = await w.writeCrcRecord(0);
      return { wal: w, contents };
    }
    let crc = 0;
    let tailOffset = 0;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const r = readSegment(join(dir, seg.name), crc, i === 0, isLast, contents);
      crc = r.crc;
      tailOffset = r.end;
      contents.repairedBytes += r.repaired;
    }
    const last = segments[segments.length - 1]!;
    const fh = await openFile(join(dir, last.name), SYNC_WRITE_FLAGS);
    if (contents.repairedBytes > 0) {
      // Zero the torn bytes so a later open does not see them again, and make the repair durable.
      const size = (await fh.stat()).size;
      await fh.write(
        Buffer.alloc(Math.min(size - tailOffset, contents.repairedBytes)),
        0,
        undefined,
        tailOffset,
      );
      await fh.datasync();
    }
    const lastIndex = contents.entries.length
      ? contents.entries[contents.entries.length - 1]!.index
      : (contents.snapshot?.index ?? 0);
    const w = new Wal(dir, segmentBytes, segments, fh, tailOffset, lastIndex, crc);
    w.maxFiles = maxFiles;
    return { wal: w, contents };
  }

  /**
   * Appends entries and the hard state with ONE durable (O_DSYNC) write. Resolves only once the data is
   * durable; a failed sync rejects, and the caller must stop the member (fail-stop).
   */
  async save(
    hardState: HardState | undefined,
    entries: readonly Entry[],
    snapshot?: SnapshotMarker,
  ): Promise<void> {
    if (this.closed) throw new Error('wal: closed');
    if (this.writing) throw new Error('wal: save while a save is in flight');
    this.writing = true;
    try {
      let batch = frameBatch(this.crc, snapshot, entries, hardState);
      if (this.offset + batch.buf.length > this.segmentBytes && this.offset > 0) {
        await this.cut((entries[0]?.index ?? this.lastIndex + 1) - 1);
        batch = frameBatch(this.crc, snapshot, entries, hardState);
      }
      failpoint('walBeforeSave');
      // One O_DSYNC write: durable on return. A small batch (a lone client) is written synchronously:
      // the thread-pool round trip would cost more than it frees. A large batch (many clients) goes to
      // the thread pool, so the loop reads and decodes the next batch while the disk syncs this one.
      // The write is the sync (O_DSYNC): its time is what etcd's fsync histogram shows.
      const started = performance.now();
      if (entries.length >= ASYNC_WRITE_ENTRIES) await writeAllAsync(this.fh, batch.buf, this.offset);
      else writeAll(this.fh.fd, batch.buf, this.offset);
      walFsync.observe((performance.now() - started) / 1000);
      counts.walWriteBytes += batch.buf.length;
      failpoint('walAfterSave');
      this.offset += batch.buf.length;
      this.crc = batch.crc;
      if (snapshot && snapshot.index > this.lastIndex) this.lastIndex = snapshot.index;
      if (entries.length) this.lastIndex = entries[entries.length - 1]!.index;
    } finally {
      this.writing = false;
    }
  }

  /** Records that a snapshot at `marker` exists (durably); entries at or below it may later be released. */
  async saveSnapshot(marker: SnapshotMarker): Promise<void> {
    await this.save(undefined, [], marker);
  }

  /**
   * Entries at or below `index` are no longer needed: segments holding only those may be removed, the
   * oldest first, while more than maxFiles segments remain. Call only after the backend holding the
   * state up to `index` is synced. Returns the number of segment files removed.
   */
  releaseTo(index: number): number {
    if (index > this.released) this.released = index;
    return this.purge();
  }

  /** Removes released segments beyond maxFiles (etcd's purge of WAL files; never a needed file). */
  private purge(): number {
    if (this.maxFiles === 0) return 0;
    let removed = 0;
    while (
      this.segments.length > this.maxFiles &&
      this.segments.length > 1 &&
      this.segments[1]!.firstIndex <= this.released + 1
    ) {
      const seg = this.segments.shift()!;
      unlinkSync(join(this.dir, seg.name));
      removed++;
    }
    if (removed) fsyncDir(this.dir);
    return removed;
  }

  segmentCount(): number {
    return this.segments.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }

  private async cut(lastIndex: number): Promise<void> {
    const prev = this.segments[this.segments.length - 1]!;
    const seg = {
      name: segmentName(prev.seq + 1, lastIndex + 1),
      seq: prev.seq + 1,
      firstIndex: lastIndex + 1,
    };
    const fh = await createSegment(this.dir, seg.name, this.segmentBytes, this.crc);
    await this.fh.close();
    this.fh = fh;
    this.segments.push(seg);
    this.offset = await this.writeCrcRecord(this.crc);
    // One more file: a released one beyond the count goes, as etcd's purge loop would remove it.
    this.purge();
  }

  private async writeCrcRecord(prevCrc: number): Promise<number> {
    const { buf, crc } = frame(RecordType.Crc, encodeCrc(prevCrc), prevCrc);
    this.crc = crc;
    await this.fh.write(buf, 0, buf.length, 0);
    return buf.length;
  }
}

/** Batches of at least this many entries are written off the event loop (see save()). */
const ASYNC_WRITE_ENTRIES = 4;

async function writeAllAsync(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, position + off)).bytesWritten;
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}

/** Creates a zero-filled segment (a preallocated file syncs faster: its size never changes). */
async function createSegment(dir: string, name: string, bytes: number, _crc: number): Promise<FileHandle> {
  const tmp = join(dir, `${name}.tmp`);
  const fh = await openFile(tmp, 'w+');
  const chunk = Buffer.alloc(Math.min(bytes, 1 << 20));
  for (let off = 0; off < bytes; off += chunk.length) {
    await fh.write(chunk, 0, Math.min(chunk.length, bytes - off), off);
  }
  await fh.sync();
  await fh.close();
  const { rename } = await import('node:fs/promises');
  await rename(tmp, join(dir, name));
  fsyncDir(dir);
  return openFile(join(dir, name), SYNC_WRITE_FLAGS);
}

/** Reads one segment into `out`; returns the crc after its last good record and that record's end. */
function readSegment(
  path: string,
  prevCrc: number,
  isFirst: boolean,
  isLast: boolean,
  out: WalContents,
): { crc: number; end: number; repaired: number } {
  const b = readFileSync(path);
  let off = 0;
  // Every segment opens with a Crc record naming the chain value it continues from. The oldest
  // surviving segment (older ones may have been released) seeds the chain from it.
  if (isFirst && b.length >= HEADER_BYTES + 5 && b[HEADER_BYTES] === RecordType.Crc) {
    prevCrc = b.readUInt32LE(HEADER_BYTES + 1);
  }
  let crc = prevCrc;
  const torn = (why: string) => {
    if (!isLast) throw new WalCorruptError(path, off, why);
    let end = b.length;
    while (end > off && b[end - 1] === 0) end--;
    return { crc, end: off, repaired: end - off };
  };
  while (off + HEADER_BYTES <= b.length) {
    const len = b.readUInt32LE(off);
    const want = b.readUInt32LE(off + 4);
    if (len === 0 && want === 0) {
      if (!allZero(b, off, b.length)) throw new WalCorruptError(path, off, 'data after the end of the log');
      return { crc, end: off, repaired: 0 };
    }
    if (len > MAX_RECORD_BYTES) throw new WalCorruptError(path, off, `record length ${len} is impossible`);
    const start = off + HEADER_BYTES;
    if (start + len > b.length) return torn('record runs past the end of the file');
    const body = b.subarray(start, start + len);
    const got = crc32c(body, crc);
    if (got !== want) {
      // A torn write leaves nothing behind it; anything written after a bad record means corruption.
      if (allZero(b, start + len, b.length)) return torn('crc mismatch in the last record');
      throw new WalCorruptError(path, off, 'crc mismatch');
    }
    crc = got;
    const payload = body.subarray(1);
    switch (body[0] as RecordType) {
      case RecordType.Entry:
      case RecordType.RaftEntry: {
        const e =
          body[0] === RecordType.Entry ? decodeLegacyEntry(Buffer.from(payload)) : decodeEntry(payload);
        // A rewritten index (after a leader change) replaces the old tail from that index on.
        while (out.entries.length && out.entries[out.entries.length - 1]!.index >= e.index) out.entries.pop();
        out.entries.push(e);
        break;
      }
      case RecordType.HardState:
        out.hardState = decodeHardState(payload);
        break;
      case RecordType.Snapshot: {
        const s = decodeSnapshot(payload);
        out.snapshot = s;
        out.entries = out.entries.filter((e) => e.index > s.index);
        break;
      }
      case RecordType.Crc:
        if (payload.readUInt32LE(0) !== prevCrc) throw new WalCorruptError(path, off, 'segment chain broken');
        break;
      default:
        throw new WalCorruptError(path, off, `unknown record type ${body[0]}`);
    }
    off = start + len;
  }
  if (off < b.length && !allZero(b, off, b.length)) return torn('partial record header at the end');
  return { crc, end: off, repaired: 0 };
}
