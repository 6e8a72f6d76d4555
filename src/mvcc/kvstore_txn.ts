// Read and write transactions over the store. A write txn's changes all share one main revision
// (beginRev + 1), each with its own sub revision; the store's revision moves when the txn ends.
import type { Backend } from '../backend/backend.ts';
import { ErrCompacted, ErrFutureRev } from './errors.ts';
import { InvariantError } from '../pkg/errors.ts';
import { failpoint } from '../pkg/failpoint.ts';
import { decodeKeyValue, encodeKeyValue, encodeTombstone, type KeyValue } from './kv_codec.ts';
import { revToBytes, type Revision } from './revision.ts';
import type { TreeIndex } from './index.ts';
import { counts } from '../pkg/metrics.ts';

export interface RangeOptions {
  /** <= 0 or absent: the txn's revision. */
  rev?: number;
  /** 0 or absent: no limit. */
  limit?: number;
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  count: number;
  /** The store revision the read saw. */
  rev: number;
}

export interface TxnEvent {
  type: 'PUT' | 'DELETE';
  kv: KeyValue;
}

/** What a txn needs of the store it belongs to. */
export interface StoreState {
  backend: Backend;
  index: TreeIndex;
  compactRev(): number;
}

const EMPTY = Buffer.alloc(0);

const latin1 = (b: Buffer) => b.toString('latin1');

/** The range end as the index takes it: "\0" means every key >= key, empty means just the key. */
function endOf(end: Buffer | undefined): string | undefined {
  if (end === undefined || end.length === 0) return undefined;
  if (end.length === 1 && end[0] === 0) return '';
  return latin1(end);
}

export function rangeAt(
  s: StoreState,
  curRev: number,
  key: Buffer,
  end: Buffer | undefined,
  o: RangeOptions,
): RangeResult {
  const rev = o.rev && o.rev > 0 ? o.rev : curRev;
  if (rev > curRev) throw new ErrFutureRev();
  if (rev < s.compactRev()) throw new ErrCompacted();
  const { hits, count } = s.index.range(latin1(key), endOf(end), rev, o.countOnly ? 0 : (o.limit ?? 0));
  if (o.countOnly) return { kvs: [], count, rev: curRev };
  const kvs = hits.map((h) => {
    const raw = s.backend.get('key', revToBytes(h.modified));
    if (!raw)
      throw new InvariantError(
        `mvcc: index points at revision ${h.modified.main}_${h.modified.sub} that is not stored`,
      );
    return decodeKeyValue(raw);
  });
  return { kvs, count, rev: curRev };
}

export class ReadTxn {
  private ended = false;
  private ranges = 0;

  constructor(
    private readonly s: StoreState,
    readonly rev: number,
  ) {}

  range(key: Buffer, end: Buffer | undefined, o: RangeOptions = {}): RangeResult {
    this.ranges++;
    return rangeAt(this.s, this.rev, key, end, o);
  }

  end(): void {
    this.ended = true;
    counts.mvccRange += this.ranges;
    if (this.ranges > 1) counts.mvccTxn++;
  }
}

export class WriteTxn {
  readonly changes: TxnEvent[] = [];
  private ended = false;
  // etcd's mvcc counters: operations of this txn, added when it ends.
  private ranges = 0;
  private puts = 0;
  private deletes = 0;
  private putBytes = 0;

  constructor(
    private readonly s: StoreState,
    readonly beginRev: number,
    private readonly onEnd: (
      txn: WriteTxn,
      meta: { consistentIndex: number; term: number } | undefined,
    ) => void,
  ) {}

  /** The revision reads in this txn see: its own revision once it has changed anything. */
  rev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  range(key: Buffer, end: Buffer | undefined, o: RangeOptions = {}): RangeResult {
    this.ranges++;
    return rangeAt(this.s, this.rev(), key, end, o);
  }

  /** Returns the key as the index holds it (latin1), so callers need not convert it again. */
  put(key: Buffer, value: Buffer, lease: bigint): string {
    const main = this.beginRev + 1;
    const rev: Revision = { main, sub: this.changes.length };
    this.puts++;
    this.putBytes += key.length + value.length;
    const k = latin1(key);
    // One tree lookup serves both the previous version and the index update (a new key needs a second).
    // `main` is past every stored revision, so the key's live generation is its current state.
    const ki = this.s.index.keyIndex(k);
    const live = ki?.live();
    const kv: KeyValue = {
      key,
      createRevision: live ? live.created.main : main,
      modRevision: main,
      version: (live ? live.ver : 0) + 1,
      value,
      lease,
    };
    this.s.backend.put('key', revToBytes(rev), encodeKeyValue(kv));
    // The backend holds a revision the index does not: armed, this throws a plain Error whose message
    // starts with "mvcc: " (tests that fail-stop is decided by the error's class, not its text).
    failpoint('mvccPutBeforeIndex', 'mvcc: failpoint mvccPutBeforeIndex: a stored revision is not indexed');
    if (ki) ki.put(rev);
    else this.s.index.put(k, rev);
    this.changes.push({ type: 'PUT', kv });
    return k;
  }

  deleteRange(key: Buffer, end: Buffer | undefined): { deleted: number; prevKvs: KeyValue[] } {
    this.deletes++;
    const prevKvs = rangeAt(this.s, this.rev(), key, end, {}).kvs;
    const main = this.beginRev + 1;
    for (const p of prevKvs) {
      const rev: Revision = { main, sub: this.changes.length };
      const kv: KeyValue = {
        key: p.key,
        createRevision: 0,
        modRevision: main,
        version: 0,
        value: EMPTY,
        lease: 0n,
      };
      this.s.backend.put('key', revToBytes(rev, true), encodeTombstone(p.key));
      this.s.index.tombstone(latin1(p.key), rev);
      this.changes.push({ type: 'DELETE', kv });
    }
    return { deleted: prevKvs.length, prevKvs };
  }

  end(meta?: { consistentIndex: number; term: number }): void {
    if (this.ended) throw new InvariantError('mvcc: write txn ended twice');
    this.ended = true;
    counts.mvccRange += this.ranges;
    counts.mvccPut += this.puts;
    counts.mvccPutBytes += this.putBytes;
    counts.mvccDelete += this.deletes;
    if (this.ranges + this.puts + this.deletes > 1) counts.mvccTxn++;
    this.onEnd(this, meta);
  }
}
