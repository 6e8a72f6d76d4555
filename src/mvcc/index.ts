// The ordered in-memory index of keys (etcd's treeIndex): a B-tree from key to KeyIndex. Keys are
// latin1 strings, so JavaScript string order is byte order.
import BTree from 'sorted-btree';
import { InvariantError } from '../pkg/errors.ts';
import { KeyIndex, type Found } from './key_index.ts';
import type { Revision } from './revision.ts';

/** The subset of sorted-btree's API used here. */
interface BTreeInstance {
  get(k: string): KeyIndex | undefined;
  set(k: string, v: KeyIndex): boolean;
  delete(k: string): boolean;
  entries(low?: string): IterableIterator<[string, KeyIndex]>;
  forEach(fn: (v: KeyIndex, k: string) => void): number;
  readonly size: number;
}

// The package is CommonJS: under Node's ESM loader its class sits on `.default` of the default import.
const BTreeCtor = ((BTree as unknown as { default?: unknown }).default ?? BTree) as new (
  entries: undefined,
  compare: (a: string, b: string) => number,
) => BTreeInstance;

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface IndexHit extends Found {
  key: string;
}

export class TreeIndex {
  private readonly tree = new BTreeCtor(undefined, byteOrder);

  get(key: string, atRev: number): Found | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  keyIndex(key: string): KeyIndex | undefined {
    return this.tree.get(key);
  }

  private ensure(key: string): KeyIndex {
    let ki = this.tree.get(key);
    if (!ki) {
      ki = new KeyIndex(key);
      this.tree.set(key, ki);
    }
    return ki;
  }

  put(key: string, rev: Revision): void {
    this.ensure(key).put(rev);
  }

  restore(key: string, created: Revision, modified: Revision, version: number): void {
    this.ensure(key).restore(created, modified, version);
  }

  tombstone(key: string, rev: Revision): void {
    const ki = this.tree.get(key);
    if (!ki) throw new InvariantError(`mvcc: tombstone on unknown key ${key}`);
    ki.tombstone(rev);
  }

  /**
   * Keys of [key, end) visible at `atRev` (end undefined: just `key`; end '': every key >= key), at most
   * `limit` of them (0 = all), and how many there are in all.
   */
  range(
    key: string,
    end: string | undefined,
    atRev: number,
    limit: number,
  ): { hits: IndexHit[]; count: number } {
    const hits: IndexHit[] = [];
    if (end === undefined) {
      const f = this.get(key, atRev);
      if (f) hits.push({ key, ...f });
      return { hits, count: hits.length };
    }
    let count = 0;
    for (const [k, ki] of this.tree.entries(key)) {
      if (end !== '' && k >= end) break;
      const f = ki.get(atRev);
      if (!f) continue;
      count++;
      if (limit === 0 || hits.length < limit) hits.push({ key: k, ...f });
    }
    return { hits, count };
  }

  /** Compacts every key at `rev`; returns the revisions (main_sub) that must be kept. */
  compact(rev: number): Set<string> {
    const available = new Set<string>();
    const empty: string[] = [];
    this.tree.forEach((ki: KeyIndex, k: string) => {
      ki.compact(rev, available);
      if (ki.isEmpty()) empty.push(k);
    });
    for (const k of empty) this.tree.delete(k);
    return available;
  }

  /** The revisions (main_sub) a compaction at `rev` would keep, nothing changed (etcd's Keep). */
  keep(rev: number): Set<string> {
    const available = new Set<string>();
    this.tree.forEach((ki: KeyIndex) => ki.keep(rev, available));
    return available;
  }

  size(): number {
    return this.tree.size;
  }
}
