// The embedded store: LMDB (through the `lmdb` package) with etcd's buckets. Writes are buffered in a
// pending batch and committed to LMDB asynchronously as one atomic batch (no fsync on the request
// path: the WAL, fsynced before apply, is what makes a write durable; sync() makes the backend
// durable before WAL segments are released). Reads see buffered and in-flight writes first.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { BUCKETS, type Bucket } from './schema.ts';
import { backendCommit } from '../pkg/metrics.ts';

export type { Bucket } from './schema.ts';

/** A buffered write: a value, or null for a delete. */
type Batch = Map<Bucket, Map<string, { key: Buffer; value: Buffer | null }>>;

const DATA_FILE = 'data.mdb';
/** Where an online defragmentation writes the compacted copy before it replaces DATA_FILE. */
const DEFRAG_FILE = 'data.mdb.defrag';

/** A read-only view of the committed buckets at one point in time (Backend.readView). */
export interface BackendView {
  /** The bucket's records in key order, read lazily. */
  entries(bucket: Bucket): Iterable<[Buffer, Buffer]>;
  done(): void;
}

type Dbs = Map<Bucket, Database<Buffer, Buffer>>;

function openEnv(path: string, mapSize: number | undefined): RootDatabase<Buffer, Buffer> {
  return open<Buffer, Buffer>({
    path,
    maxDbs: BUCKETS.length + 2,
    keyEncoding: 'binary',
    encoding: 'binary',
    ...(mapSize ? { mapSize } : {}),
  });
}

function openDbs(env: RootDatabase<Buffer, Buffer>): Dbs {
  const dbs: Dbs = new Map();
  for (const b of BUCKETS) {
    dbs.set(b, env.openDB<Buffer, Buffer>({ name: b, keyEncoding: 'binary', encoding: 'binary' }));
  }
  return dbs;
}

/** What a defragmentation did: the file's size before and after. */
export interface DefragResult {
  sizeBefore: number;
  sizeAfter: number;
}

export class Backend {
  private dbs: Dbs;
  private pending: Batch = new Map();
  private pendingCount = 0;
  /** Batches handed to LMDB, oldest first, dropped as they commit. */
  private readonly inflight: Batch[] = [];
  private lastCommit: Promise<void> = Promise.resolve();
  private closed = false;
  /** While a defragmentation copies: every batch handed to LMDB, to be replayed on the copy. */
  private recording: Batch[] | undefined;
  private defragging: Promise<DefragResult> | undefined;
  /** Read views open, per environment (readView). */
  private readonly views = new Map<RootDatabase<Buffer, Buffer>, number>();
  /** Environments a defragmentation replaced, waiting for their last view: the close to run then. */
  private readonly retired = new Map<RootDatabase<Buffer, Buffer>, () => void>();

  private constructor(
    private readonly dir: string,
    private env: RootDatabase<Buffer, Buffer>,
    private readonly mapSize: number | undefined,
  ) {
    this.dbs = openDbs(env);
  }

  static open(dir: string, opts: { mapSize?: number } = {}): Backend {
    mkdirSync(dir, { recursive: true });
    // A defragmentation cut short by a crash leaves its copy behind; DATA_FILE is whole either way.
    for (const f of [DEFRAG_FILE, `${DEFRAG_FILE}-lock`]) rmSync(join(dir, f), { force: true });
    return new Backend(dir, openEnv(join(dir, DATA_FILE), opts.mapSize), opts.mapSize);
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
    this.recording?.push(batch);
    const started = performance.now();
    // The transaction runs later: it writes to the databases of the environment it was handed to,
    // even if a defragmentation swaps in another meanwhile.
    const dbs = this.dbs;
    const done = this.env.transaction(() => {
      for (const [bucket, m] of batch) {
        const db = dbs.get(bucket)!;
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

  /**
   * The committed buckets as of now, pinned in one LMDB read transaction while writes go on (a
   * snapshot export); release it with done(). Reads only what is committed: commit() first.
   */
  readView(): BackendView {
    // The view keeps the environment and databases it began on: a defragmentation may swap in others
    // meanwhile, and the old environment closes only once its last view is done.
    const env = this.env;
    const dbs = this.dbs;
    const txn = env.useReadTransaction();
    this.views.set(env, (this.views.get(env) ?? 0) + 1);
    let open = true;
    return {
      entries: (bucket) =>
        dbs
          .get(bucket)!
          .getRange({ transaction: txn })
          .map(({ key, value }): [Buffer, Buffer] => [key, value]),
      done: () => {
        if (!open) return;
        open = false;
        txn.done();
        const left = this.views.get(env)! - 1;
        if (left > 0) return void this.views.set(env, left);
        this.views.delete(env);
        this.retired.get(env)?.();
      },
    };
  }

  /**
   * A read-only view of the database file at `path` from another process (LMDB serves several), pinned
   * in one read transaction: what a snapshot export in a child process reads, so that the pages it
   * walks are mapped into that process, not the member's. close() ends the transaction and the
   * environment.
   */
  static openReadOnlyView(path: string): BackendView & { close(): Promise<void> } {
    const env = open<Buffer, Buffer>({
      path,
      readOnly: true,
      maxDbs: BUCKETS.length + 2,
      keyEncoding: 'binary',
      encoding: 'binary',
    });
    const dbs = openDbs(env);
    const txn = env.useReadTransaction();
    return {
      entries: (bucket) =>
        dbs
          .get(bucket)!
          .getRange({ transaction: txn })
          .map(({ key, value }): [Buffer, Buffer] => [key, value]),
      done: () => txn.done(),
      async close() {
        txn.done();
        await env.close();
      },
    };
  }

  /** The database file. */
  get path(): string {
    return join(this.dir, DATA_FILE);
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

  /**
   * Online defragmentation: LMDB copies the committed data, compacted, into a new file on its own
   * thread (from one read transaction) while reads and writes go on here. Every batch not known to be
   * committed when it starts (those in flight then, and every one handed to LMDB since) is recorded;
   * once the copy is done they are replayed on it in one synchronous
   * transaction (replaying one the copy already holds rewrites the same values), the new file
   * replaces the old (rename), and the next reads and commits go to it, all in the same event-loop
   * turn. The old environment closes once its own commits are done. One at a time: a second call
   * shares the first's result.
   */
  defragment(): Promise<DefragResult> {
    this.defragging ??= this.runDefrag().finally(() => {
      this.defragging = undefined;
    });
    return this.defragging;
  }

  private async runDefrag(): Promise<DefragResult> {
    if (this.closed) throw new Error('backend: closed');
    const sizeBefore = this.size();
    const copyPath = join(this.dir, DEFRAG_FILE);
    for (const f of [copyPath, `${copyPath}-lock`]) rmSync(f, { force: true });
    // Batches already handed to LMDB but not yet committed may miss the copy's snapshot: they are
    // replayed too (replaying one the copy holds rewrites the same values).
    const recorded: Batch[] = [...this.inflight];
    this.recording = recorded;
    let next: RootDatabase<Buffer, Buffer> | undefined;
    try {
      await this.env.backup(copyPath, true);
      if (this.closed) throw new Error('backend: closed');
      next = openEnv(copyPath, this.mapSize);
      const dbs = openDbs(next);
      next.transactionSync(() => {
        for (const batch of recorded) {
          for (const [bucket, m] of batch) {
            const db = dbs.get(bucket)!;
            for (const { key, value } of m.values()) {
              if (value === null) void db.remove(key);
              else void db.put(key, value);
            }
          }
        }
      });
      // The copy holds everything committed so far, durably; it becomes DATA_FILE.
      renameSync(copyPath, join(this.dir, DATA_FILE));
      // Its lock file too: another process opening DATA_FILE (a snapshot export) must register its
      // readers where this environment's writer looks for them.
      renameSync(`${copyPath}-lock`, join(this.dir, `${DATA_FILE}-lock`));
      syncDir(this.dir);
      const old = this.env;
      const oldCommit = this.lastCommit;
      this.env = next;
      this.dbs = dbs;
      next = undefined;
      // Its in-flight commits are in the copy already; they only have to finish before it closes, and
      // so do the read views open on it.
      void oldCommit.finally(() => {
        const close = () => {
          this.retired.delete(old);
          old.close().catch(() => {});
        };
        if (this.views.has(old)) this.retired.set(old, close);
        else close();
      });
    } finally {
      this.recording = undefined;
      if (next) {
        await next.close();
        for (const f of [copyPath, `${copyPath}-lock`]) rmSync(f, { force: true });
      }
    }
    return { sizeBefore, sizeAfter: this.size() };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.defragging?.catch(() => {});
    await this.sync();
    this.closed = true;
    await this.env.close();
  }
}

/** Makes a rename in `dir` durable. */
function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
