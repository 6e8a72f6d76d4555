// The revisions of one key, in generations: a generation starts when the key is created and ends
// with its tombstone (deletion); the last generation is the live one (empty if the key is deleted).

import type { Revision } from './revision.ts';
import { revKey } from './revision.ts';
import { InvariantError } from '../pkg/errors.ts';

export interface Generation {
  /** Version of the key at the last revision of this generation. */
  ver: number;
  created: Revision;
  revs: Revision[];
}

const emptyGen = (): Generation => ({ ver: 0, created: { main: 0, sub: 0 }, revs: [] });

export interface Found {
  modified: Revision;
  created: Revision;
  version: number;
}

export class KeyIndex {
  modified: Revision = { main: 0, sub: 0 };
  generations: Generation[] = [emptyGen()];

  constructor(readonly key: string) {}

  put(rev: Revision): void {
    const g = this.generations[this.generations.length - 1]!;
    if (g.revs.length === 0) g.created = rev;
    g.revs.push(rev);
    g.ver++;
    this.modified = rev;
  }

  /** Rebuilds a generation from a stored kv (its created revision and version may predate compaction). */
  restore(created: Revision, modified: Revision, version: number): void {
    const g = this.generations[this.generations.length - 1]!;
    if (g.revs.length === 0) {
      g.created = created;
      g.ver = version;
      g.revs.push(modified);
    } else {
      g.revs.push(modified);
      g.ver = version;
    }
    this.modified = modified;
  }

  tombstone(rev: Revision): void {
    if (this.generations[this.generations.length - 1]!.revs.length === 0) {
      throw new InvariantError(`mvcc: tombstone on a key with no live generation: ${this.key}`);
    }
    this.put(rev);
    this.generations.push(emptyGen());
  }

  isEmpty(): boolean {
    return this.generations.length === 1 && this.generations[0]!.revs.length === 0;
  }

  private findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let i = last; i >= 0; i--) {
      const g = this.generations[i]!;
      if (g.revs.length === 0) continue;
      // A closed generation ends with its tombstone: at or after it, the key does not exist.
      if (i !== last && g.revs[g.revs.length - 1]!.main <= atRev) return undefined;
      if (g.revs[0]!.main <= atRev) return g;
    }
    return undefined;
  }

  /**
   * The live generation (the key exists now), or undefined if the key is deleted. At a revision past
   * every stored one this is what get() finds, without building a result.
   */
  live(): Generation | undefined {
    const g = this.generations[this.generations.length - 1]!;
    return g.revs.length > 0 ? g : undefined;
  }

  /** The revision of the key visible at `atRev`, or undefined when it did not exist then. */
  get(atRev: number): Found | undefined {
    const g = this.findGeneration(atRev);
    if (!g) return undefined;
    for (let n = g.revs.length - 1; n >= 0; n--) {
      const r = g.revs[n]!;
      if (r.main <= atRev)
        return { modified: r, created: g.created, version: g.ver - (g.revs.length - n - 1) };
    }
    return undefined;
  }

  /**
   * Drops revisions older than the newest one at or below `atRev` (which stays readable), and whole
   * generations that ended at or before it. Revisions still needed are added to `available`.
   */
  compact(atRev: number, available: Set<string>): void {
    let genIdx = 0;
    let g = this.generations[0]!;
    while (genIdx < this.generations.length - 1) {
      if (g.revs[g.revs.length - 1]!.main > atRev) break;
      genIdx++;
      g = this.generations[genIdx]!;
    }
    let revIndex = -1;
    for (let n = g.revs.length - 1; n >= 0; n--) {
      if (g.revs[n]!.main <= atRev) {
        available.add(revKey(g.revs[n]!));
        revIndex = n;
        break;
      }
    }
    if (g.revs.length > 0) {
      if (revIndex !== -1) g.revs = g.revs.slice(revIndex);
      // A generation left holding only its tombstone is gone.
      if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
        available.delete(revKey(g.revs[0]!));
        genIdx++;
      }
    }
    this.generations = this.generations.slice(genIdx);
  }
}
