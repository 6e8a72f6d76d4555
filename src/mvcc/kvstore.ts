// The multi-version key-value store (etcd's mvcc store): one global revision, an in-memory index of
// every key's revisions, the values in the backend's key bucket keyed by revision. Watchers hear about
// a write txn when it ends, and from nowhere else.
import type { Backend } from '../backend/backend.ts';
import {
  META_CONSISTENT_INDEX,
  META_FINISHED_COMPACT,
  META_SCHEDULED_COMPACT,
  META_TERM,
} from '../backend/schema.ts';
import { crc32c } from '../pkg/crc32c.ts';
import { leaseOf, readIndexFields, type IndexFields, type KeyValue } from './kv_codec.ts';
import { TreeIndex } from './index.ts';
import { bytesToRev, isTombstone, revToBytes, writeU64BE } from './revision.ts';
import {
  ReadTxn,
  WriteTxn,
  rangeAt,
  type RangeOptions,
  type RangeResult,
  type TxnEvent,
} from './kvstore_txn.ts';
import { runCompaction } from './kvstore_compaction.ts';
import { ErrCompacted, ErrFutureRev } from './errors.ts';

export type { KeyValue } from './kv_codec.ts';
export type { TxnEvent, RangeOptions, RangeResult } from './kvstore_txn.ts';
export { ReadTxn, WriteTxn } from './kvstore_txn.ts';

export type TxnEndListener = (events: TxnEvent[], rev: number) => void;

function u64(b: Buffer | undefined): number {
  return b && b.length === 8 ? Number(b.readBigUInt64BE(0)) : 0;
}

function u64Bytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64BE(b, n, 0);
  return b;
}

export class KVStore {
  readonly index = new TreeIndex();
  private currentRev = 1;
  private compactMainRev = 0;
  private consistentIdx = 0;
  private term = 0;
  private compaction: Promise<void> = Promise.resolve();
  /** Live keys on a lease found by open(), until the lessor takes them (takeLeasedKeys). */
  private leasedAtOpen: Map<string, bigint> | undefined;
  private readonly listeners: TxnEndListener[] = [];
  private readonly state;
  /** Every write txn's end callback (one function, not a closure per txn). */
  private readonly onWriteEnd = (
    txn: WriteTxn,
    meta: { consistentIndex: number; term: number } | undefined,
  ) => this.endWrite(txn, meta);

  private constructor(readonly backend: Backend) {
    this.state = { backend, index: this.index, compactRev: () => this.compactMainRev };
  }

  /** Opens the store over `backend`, rebuilding the index from the key bucket. */
  static async open(backend: Backend): Promise<KVStore> {
    const s = new KVStore(backend);
    s.consistentIdx = u64(backend.get('meta', META_CONSISTENT_INDEX));
    s.term = u64(backend.get('meta', META_TERM));
    const scheduled = u64(backend.get('meta', META_SCHEDULED_COMPACT));
    const finished = u64(backend.get('meta', META_FINISHED_COMPACT));
    s.compactMainRev = scheduled;
    const f: IndexFields = { keyStart: 0, keyEnd: 0, createRevision: 0, version: 0, leaseAt: -1 };
    // Which live key is on which lease, found on the way (the lessor attaches them once it is loaded).
    const leased = new Map<string, bigint>();
    backend.forEach('key', undefined, undefined, (k, v) => {
      // The revision from its 17 bytes, in 32-bit halves (no BigInt), and only what the index needs
      // of the value.
      const rev = {
        main: k.readUInt32BE(0) * 0x1_0000_0000 + k.readUInt32BE(4),
        sub: k.readUInt32BE(9) * 0x1_0000_0000 + k.readUInt32BE(13),
      };
      readIndexFields(v, f);
      const key = v.toString('latin1', f.keyStart, f.keyEnd);
      if (isTombstone(k)) {
        // Compaction keeps a live revision before every kept tombstone; a lone one closes nothing.
        const ki = s.index.keyIndex(key);
        if (ki?.live()) s.index.tombstone(key, rev);
        leased.delete(key);
      } else {
        s.index.restore(key, { main: f.createRevision, sub: 0 }, rev, f.version);
        const lease = f.leaseAt < 0 ? 0n : leaseOf(v, f.leaseAt);
        if (lease !== 0n) leased.set(key, lease);
        else leased.delete(key);
      }
      if (rev.main > s.currentRev) s.currentRev = rev.main;
    });
    if (s.compactMainRev > s.currentRev) s.currentRev = s.compactMainRev;
    if (scheduled > finished) {
      // A compaction was cut short by a crash: finish it.
      s.compaction = runCompaction(s, scheduled);
      await s.compaction;
    } else if (scheduled > 0) {
      s.index.compact(scheduled);
    }
    s.leasedAtOpen = leased;
    return s;
  }

  /**
   * The live keys on a lease (latin1 key -> lease ID) as the store found them when it opened, once:
   * the lessor attaches them when it restores its leases, without reading every value again.
   */
  takeLeasedKeys(): Map<string, bigint> {
    const m = this.leasedAtOpen ?? new Map<string, bigint>();
    this.leasedAtOpen = undefined;
    return m;
  }

  rev(): number {
    return this.currentRev;
  }

  compactRev(): number {
    return this.compactMainRev;
  }

  consistentIndex(): number {
    return this.consistentIdx;
  }

  onTxnEnd(l: TxnEndListener): void {
    this.listeners.push(l);
  }

  read(): ReadTxn {
    return new ReadTxn(this.state, this.currentRev);
  }

  write(): WriteTxn {
    return new WriteTxn(this.state, this.currentRev, this.onWriteEnd);
  }

  /** Keys in the index, deleted ones not yet compacted away included (etcd's keys gauge). */
  keyCount(): number {
    return this.state.index.size();
  }

  /** One-shot read at the current revision. */
  range(key: Buffer, end: Buffer | undefined, o: RangeOptions = {}): RangeResult {
    return rangeAt(this.state, this.currentRev, key, end, o);
  }

  private endWrite(txn: WriteTxn, meta: { consistentIndex: number; term: number } | undefined): void {
    if (meta) this.setConsistentIndex(meta.consistentIndex, meta.term);
    if (txn.changes.length === 0) return;
    this.currentRev = txn.beginRev + 1;
    for (const l of this.listeners) l(txn.changes, this.currentRev);
  }

  /** Records the applied index (and term) in the pending backend batch. */
  setConsistentIndex(index: number, term: number): void {
    if (index <= this.consistentIdx && term === this.term) return;
    this.consistentIdx = index;
    this.backend.put('meta', META_CONSISTENT_INDEX, u64Bytes(index));
    if (term !== this.term) {
      this.term = term;
      this.backend.put('meta', META_TERM, u64Bytes(term));
    }
  }

  /**
   * Compacts history at `rev`: reads below it fail at once; the backend drops obsolete revisions in
   * batches. `done` resolves when that is finished.
   */
  compact(rev: number): { done: Promise<void> } {
    if (rev <= this.compactMainRev) throw new ErrCompacted();
    if (rev > this.currentRev) throw new ErrFutureRev();
    this.compactMainRev = rev;
    this.backend.put('meta', META_SCHEDULED_COMPACT, u64Bytes(rev));
    const prev = this.compaction;
    this.compaction = prev.then(() => runCompaction(this, rev));
    return { done: this.compaction };
  }

  /**
   * etcd's HashByRev: the hash of the key bucket up to `rev` (0: the current revision), for comparing
   * members. Revisions at or below the compact revision count only if a compaction at `rev` would keep
   * them (the newest of each key, unless the key was deleted), so members that did and did not yet
   * remove a compacted revision agree, and the hash equals etcd's over the same history.
   */
  async hashKV(rev: number): Promise<{ hash: number; compactRevision: number; hashRevision: number }> {
    if (rev > 0 && rev <= this.compactMainRev) throw new ErrCompacted();
    const at = rev > 0 ? rev : this.currentRev;
    if (at > this.currentRev) throw new ErrFutureRev();
    await this.compaction;
    await this.backend.commit();
    // Before any compaction etcd reports -1 (its compactMainRev starts there); 0 means none here.
    const compactRevision = this.compactMainRev > 0 ? this.compactMainRev : -1;
    const keep = this.index.keep(at);
    const lower = revToBytes({ main: this.compactMainRev + 1, sub: 0 });
    let h = crc32c(Buffer.from('key'));
    this.backend.forEach('key', undefined, revToBytes({ main: at + 1, sub: 0 }), (k, v) => {
      if (keep.size > 0 && Buffer.compare(k, lower) < 0) {
        const r = bytesToRev(k);
        if (!keep.has(`${r.main}_${r.sub}`)) return;
      }
      h = crc32c(v, crc32c(k, h));
    });
    return { hash: h, compactRevision, hashRevision: at };
  }

  /** Every live key-value at the current revision (used at startup). */
  all(): KeyValue[] {
    return this.range(Buffer.from([0]), Buffer.from([0])).kvs;
  }
}
