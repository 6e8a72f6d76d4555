// The revisions of one key, in generations: a generation starts when the key is created and ends
// with its tombstone (deletion); the last generation is the live one (empty if the key is deleted).
//
// Every key of the store has one of these in memory, so it is kept compact (issue 16): the live
// generation's fields sit on the object itself and its revisions are one flat array of numbers
// [main, sub, main, sub, ...] sized to fit, with no object per revision; the generations a tombstone
// ended (until a compaction drops them) are in `closed`, undefined for most keys. A key written once
// costs about 140 bytes here, where one object per revision and per generation in arrays grown by
// push cost about 380.

import type { Revision } from './revision.ts';
import { InvariantError } from '../pkg/errors.ts';

export interface Generation {
  /** Version of the key at the last revision of this generation. */
  ver: number;
  created: Revision;
  revs: Revision[];
}

export interface Found {
  modified: Revision;
  created: Revision;
  version: number;
}

/** A generation a tombstone ended: the same fields as the live one's. */
interface Closed {
  ver: number;
  cMain: number;
  cSub: number;
  /** [main, sub] pairs, oldest first; the last pair is the tombstone. */
  revs: number[];
}

const NONE: readonly number[] = Object.freeze([]);

/**
 * `revs` with (main, sub) appended. A short array is copied to an array of exactly the new size (one
 * grown by push reserves about 17 slots); a long one (a key rewritten many times between compactions)
 * grows by push, so appending stays amortised O(1).
 */
function append(revs: readonly number[], main: number, sub: number): number[] {
  if (revs.length >= 16) {
    (revs as number[]).push(main, sub);
    return revs as number[];
  }
  return revs.concat(main, sub);
}

/** The version at the pair index `i` of a generation whose last pair (at `last`) has version `ver`. */
const versionAt = (ver: number, i: number, last: number) => ver - (last - i) / 2;

export class KeyIndex {
  /** Version of the key at the live generation's last revision. */
  private ver = 0;
  private cMain = 0;
  private cSub = 0;
  /** The live generation's revisions as [main, sub] pairs; empty when the key does not exist now. */
  private revs: readonly number[] = NONE;
  /** Generations ended by a tombstone, oldest first; undefined when there are none. */
  private closed: Closed[] | undefined = undefined;

  constructor(readonly key: string) {}

  put(rev: Revision): void {
    if (this.revs.length === 0) {
      this.cMain = rev.main;
      this.cSub = rev.sub;
    }
    this.revs = append(this.revs, rev.main, rev.sub);
    this.ver++;
  }

  /** Rebuilds a generation from a stored kv (its created revision and version may predate compaction). */
  restore(created: Revision, modified: Revision, version: number): void {
    if (this.revs.length === 0) {
      this.cMain = created.main;
      this.cSub = created.sub;
    }
    this.revs = append(this.revs, modified.main, modified.sub);
    this.ver = version;
  }

  tombstone(rev: Revision): void {
    if (this.revs.length === 0) {
      throw new InvariantError(`mvcc: tombstone on a key with no live generation: ${this.key}`);
    }
    this.put(rev);
    const g: Closed = { ver: this.ver, cMain: this.cMain, cSub: this.cSub, revs: this.revs as number[] };
    if (this.closed) this.closed.push(g);
    else this.closed = [g];
    this.ver = 0;
    this.cMain = 0;
    this.cSub = 0;
    this.revs = NONE;
  }

  isEmpty(): boolean {
    return this.closed === undefined && this.revs.length === 0;
  }

  /** The last revision of the key (a put or its tombstone); undefined when none is held. */
  get modified(): Revision | undefined {
    const revs = this.revs.length > 0 ? this.revs : this.closed?.[this.closed.length - 1]?.revs;
    if (!revs || revs.length === 0) return undefined;
    return { main: revs[revs.length - 2]!, sub: revs[revs.length - 1]! };
  }

  /**
   * The live generation (the key exists now), or undefined if the key is deleted. At a revision past
   * every stored one this is what get() finds, without building a result.
   */
  live(): { ver: number; created: Revision } | undefined {
    if (this.revs.length === 0) return undefined;
    return { ver: this.ver, created: { main: this.cMain, sub: this.cSub } };
  }

  /** Every generation, oldest first, the live one last (empty when the key is deleted): for tests. */
  get generations(): Generation[] {
    const gen = (ver: number, cMain: number, cSub: number, revs: readonly number[]): Generation => {
      const rs: Revision[] = [];
      for (let i = 0; i < revs.length; i += 2) rs.push({ main: revs[i]!, sub: revs[i + 1]! });
      return { ver, created: { main: cMain, sub: cSub }, revs: rs };
    };
    const out = (this.closed ?? []).map((g) => gen(g.ver, g.cMain, g.cSub, g.revs));
    out.push(gen(this.ver, this.cMain, this.cSub, this.revs));
    return out;
  }

  /** The revision of the key visible at `atRev`, or undefined when it did not exist then. */
  get(atRev: number): Found | undefined {
    // The live generation first: most reads are of the current state.
    const revs = this.revs;
    if (revs.length > 0 && revs[0]! <= atRev) {
      return foundIn(revs, this.ver, this.cMain, this.cSub, atRev);
    }
    const closed = this.closed;
    if (!closed) return undefined;
    for (let i = closed.length - 1; i >= 0; i--) {
      const g = closed[i]!;
      // A closed generation ends with its tombstone: at or after it, the key does not exist.
      if (g.revs[g.revs.length - 2]! <= atRev) return undefined;
      if (g.revs[0]! <= atRev) return foundIn(g.revs, g.ver, g.cMain, g.cSub, atRev);
    }
    return undefined;
  }

  /**
   * Adds to `available` the revision a compaction at `atRev` would keep (the newest at or below it in
   * the generation still open then), changing nothing; a deleted key keeps none (etcd's keep).
   */
  keep(atRev: number, available: Set<string>): void {
    let revs: readonly number[] = this.revs;
    const closed = this.closed;
    if (closed) {
      let i = 0;
      while (i < closed.length && closed[i]!.revs[closed[i]!.revs.length - 2]! <= atRev) i++;
      if (i < closed.length) revs = closed[i]!.revs;
    }
    let j = revs.length - 2;
    while (j >= 0 && revs[j]! > atRev) j -= 2;
    if (j >= 0) available.add(`${revs[j]!}_${revs[j + 1]!}`);
  }

  /**
   * Drops revisions older than the newest one at or below `atRev` (which stays readable), and whole
   * generations that ended at or before it. Revisions still needed are added to `available`.
   */
  compact(atRev: number, available: Set<string>): void {
    const closed = this.closed;
    if (closed) {
      // Generations that ended (with their tombstone) at or before atRev: only the last of those can
      // hold the revision atRev reads, and it reads nothing (the key was deleted then), so all go.
      let drop = 0;
      while (drop < closed.length && closed[drop]!.revs[closed[drop]!.revs.length - 2]! <= atRev) drop++;
      if (drop < closed.length) {
        // The first generation still open at atRev keeps its revisions from the newest at or below it.
        const g = closed[drop]!;
        g.revs = keepFrom(g.revs, atRev, available);
        // A generation left holding only its tombstone is gone.
        if (g.revs.length === 2) {
          available.delete(`${g.revs[0]!}_${g.revs[1]!}`);
          drop++;
        }
        this.closed = drop === closed.length ? undefined : drop > 0 ? closed.slice(drop) : closed;
        return;
      }
      this.closed = undefined;
    }
    if (this.revs.length > 0) this.revs = keepFrom(this.revs, atRev, available);
  }
}

/** The hit at `atRev` in a generation's pairs (the first pair is at or below atRev). */
function foundIn(revs: readonly number[], ver: number, cMain: number, cSub: number, atRev: number): Found {
  const last = revs.length - 2;
  let i = last;
  while (i > 0 && revs[i]! > atRev) i -= 2;
  return {
    modified: { main: revs[i]!, sub: revs[i + 1]! },
    created: { main: cMain, sub: cSub },
    version: versionAt(ver, i, last),
  };
}

/**
 * The pairs from the newest at or below `atRev` on (older ones are history a compaction removes); the
 * kept one's revision goes into `available`. Unchanged when every pair is newer than atRev.
 */
function keepFrom(revs: readonly number[], atRev: number, available: Set<string>): number[] {
  let i = revs.length - 2;
  while (i >= 0 && revs[i]! > atRev) i -= 2;
  if (i < 0) return revs as number[];
  available.add(`${revs[i]!}_${revs[i + 1]!}`);
  return i === 0 ? (revs as number[]) : revs.slice(i);
}
