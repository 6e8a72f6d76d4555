// The embedded store: LMDB (through the `lmdb` package) with etcd's buckets. Writes are buffered in a
// pending batch and committed to LMDB asynchronously as one atomic batch (no fsync on the request
// path: the WAL, fsynced before apply, is what makes a write durable; sync() makes the backend
// durable before WAL segments are released). Reads see buffered and in-flight writes first.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { BUCKETS, type Bucket } from './schema.ts';
import { backendCommit } from '../pkg/metrics.ts';

export type { Bucket } from './schema.ts';

/** A buffered write: a value, or null for a delete. */
type Batch = Map<Bucket, Map<string, { key: Buffer; value: Buffer | null }>>;

const DATA_FILE = 'data.mdb';

export class Backend {
  private readonly dbs = new Map<Bucket, Database<Buffer, Buffer>>();
  private pending: Batch = new Map();
  private pendingCount = 0;
  /** Batches handed to LMDB, oldest first, dropped as they commit. */
  private readonly inflight: Batch[] = [];
  private lastCommit: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly env: RootDatabase<Buffer, Buffer>,
  ) {
    for (const b of BUCKETS) {
      this.dbs.set(b, env.openDB<Buffer, Buffer>({ name: b, keyEncoding: 'binary', encoding: 'binary' }));
    }
  }

  static open(dir: string, opts: { mapSize?: number } = {}): Backend {
    mkdirSync(dir, { recursive: true });
    const env = open<Buffer, Buffer>({
      path: join(dir, DATA_FILE),
      maxDbs: BUCKETS.length + 2,
      keyEncoding: 'binary',
      encoding: 'binary',
      ...(opts.mapSize ? { mapSize: opts.mapSize } : {}),
    });
    return new Backend(dir, env);
  }

  private db(bucket: Bucket): Database<Buffer, Buffer> {
    return this.dbs.get(bucket)!;
  }

  private lookupBuffered(bucket: Bucket, k: string): { value: Buffer | null } | undefined {
    const p = this.pending.get(bucket)?.get(k);
    if (p) return p;
    for (let i = this.inflight.length - 1; i >= 0; i--) {
      const hit = this.inflight[i]!.get(bucket)?.get(k);
      if (hit) return hit;
    }
    return undefined;
  }

  get(bucket: Bucket, key: Uint8Array): Buffer | undefined {
    const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
    const buffered = this.lookupBuffered(bucket, k.toString('latin1'));
    if (buffered) return buffered.value ?? undefined;
    return this.db(bucket).getBinary(k) ?? undefined;
  }

  put(bucket: Bucket, key: Uint8Array, value: Uint8Array): void {
    this.buffer(
      bucket,
      key,
      Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    );
  }

  del(bucket: Bucket, key: Uint8Array): void {
    this.buffer(bucket, key, null);
  }

  private buffer(bucket: Bucket, key: Uint8Array, value: Buffer | null): void {
    if (this.closed) throw new Error('backend: closed');
    let m = this.pending.get(bucket);
    if (!m) this.pending.set(bucket, (m = new Map()));
    const s = (Buffer.isBuffer(key) ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength)).toString(
      'latin1',
    );
    // A key written again in the same batch (the applied index, once per entry) keeps its entry.
    const prev = m.get(s);
    if (prev) prev.value = value;
    else m.set(s, { key: Buffer.from(key), value });
    this.pendingCount++;
  }

  /** Writes buffered since the last commit. */
  pendingWrites(): number {
    return this.pendingCount;
  }

  /**
   * Hands the pending batch to LMDB as one atomic transaction. Batches commit in order; the returned
   * promise resolves when this one (and all before it) is in LMDB.
   */
  commit(): Promise<void> {
    if (this.pendingCount === 0) return this.lastCommit;
    const batch = this.pending;
    this.pending = new Map();
    this.pendingCount = 0;
    this.inflight.push(batch);
    const started = performance.now();
    const done = this.env.transaction(() => {
      for (const [bucket, m] of batch) {
        const db = this.db(bucket);
        // Inside transaction() each write applies at once; their promises only echo the transaction's,
        // which `done` reports.
        for (const { key, value } of m.values()) {
          if (value === null) void db.remove(key);
          else void db.put(key, value);
        }
      }
    });
    this.lastCommit = Promise.resolve(done).then(() => {
      backendCommit.observe((performance.now() - started) / 1000);
      if (this.inflight[0] === batch) this.inflight.shift();
      else this.inflight.splice(this.inflight.indexOf(batch), 1);
    });
    return this.lastCommit;
  }

  /** Commits what is pending and makes everything committed durable on disk. */
  async sync(): Promise<void> {
    await this.commit();
    await this.env.flushed;
  }

  /** Visits committed entries of `bucket` with start <= key < end (bounds optional), in key order. */
  forEach(
    bucket: Bucket,
    start: Uint8Array | undefined,
    end: Uint8Array | undefined,
    fn: (key: Buffer, value: Buffer) => boolean | void,
  ): void {
    const opts: { start?: Buffer; end?: Buffer } = {};
    if (start) opts.start = Buffer.from(start);
    if (end) opts.end = Buffer.from(end);
    for (const { key, value } of this.db(bucket).getRange(opts)) {
      if (fn(key, value) === false) break;
    }
  }

  /** Bytes of the database file. */
  size(): number {
    try {
      return statSync(join(this.dir, DATA_FILE)).size;
    } catch {
      return 0;
    }
  }

  /** Bytes of pages holding data (file size minus free pages). */
  sizeInUse(): number {
    const s = this.env.getStats() as { pageSize: number; lastPageNumber?: number; freelistEntries?: number };
    let pages = 0;
    for (const db of this.dbs.values()) {
      const d = db.getStats() as {
        treeBranchPageCount: number;
        treeLeafPageCount: number;
        overflowPages: number;
      };
      pages += d.treeBranchPageCount + d.treeLeafPageCount + d.overflowPages;
    }
    return Math.min(this.size(), (pages + 4) * s.pageSize);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
    await this.env.close();
  }
}
