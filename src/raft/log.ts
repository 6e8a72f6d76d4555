// RaftLog: the log as raft sees it, stable storage underneath plus the unstable tail above, with the
// commit/applying/applied cursors.
import { ErrCompacted, ErrUnavailable } from './errors.ts';
import type { Entry, Snapshot } from './raftpb.ts';
import type { Storage } from './storage.ts';
import { Unstable } from './log_unstable.ts';
import { NO_LIMIT, limitSize, panic } from './util.ts';

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known to be committed by a quorum. */
  committed: number;
  /** Highest index handed to the application in a Ready (applied <= applying <= committed). */
  applying: number;
  /** Highest index the application has reported applied. */
  applied: number;
  /** Bytes of committed entries handed out but not yet applied; new ones wait while over the limit. */
  maxApplyingEntsSize: number;
  applyingEntsSize = 0;
  applyingEntsPaused = false;

  constructor(storage: Storage, maxApplyingEntsSize: number = NO_LIMIT) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
    this.maxApplyingEntsSize = maxApplyingEntsSize;
  }

  toString(): string {
    return (
      `committed=${this.committed}, applied=${this.applied}, applying=${this.applying}, ` +
      `unstable.offset=${this.unstable.offset}, unstable.offsetInProgress=${this.unstable.offsetInProgress}, ` +
      `len(unstable.Entries)=${this.unstable.entries.length}`
    );
  }

  /**
   * Appends a leader's entries that follow (prevIndex, prevTerm), if our log has that entry; returns
   * the index of the last new entry, or undefined when the consistency check fails.
   */
  maybeAppend(prevIndex: number, prevTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed)
        panic(`entry ${ci} conflict with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (prevIndex + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    if (after < this.committed) panic(`after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The first index where ents disagrees with our log (same index, other term) or goes past its end;
   * 0 if our log already holds all of ents.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (or unknown), with that term (0 if unknown):
   * the best guess of where our log stops matching a log whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const t = this.termOrUndefined(index);
      if (t === undefined) return { index, term: 0 };
      if (t <= term) return { index, term: t };
    }
    return { index: 0, term: 0 };
  }

  nextUnstableEnts(): Entry[] {
    return this.unstable.nextEntries();
  }

  hasNextUnstableEnts(): boolean {
    return this.unstable.nextEntries().length > 0;
  }

  hasNextOrInProgressUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  /** Committed entries not yet handed out; with allowUnstable, also ones not yet durable locally. */
  nextCommittedEnts(allowUnstable: boolean): Entry[] {
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return [];
    const lo = this.applying + 1;
    const hi = this.maxAppliableIndex(allowUnstable) + 1;
    if (lo >= hi) return [];
    const maxSize = this.maxApplyingEntsSize - this.applyingEntsSize;
    if (maxSize <= 0)
      panic(`applying entry size (${this.maxApplyingEntsSize}-${this.applyingEntsSize}) not positive`);
    return this.slice(lo, hi, maxSize);
  }

  hasNextCommittedEnts(allowUnstable: boolean): boolean {
    if (this.applyingEntsPaused || this.hasNextOrInProgressSnapshot()) return false;
    return this.applying + 1 < this.maxAppliableIndex(allowUnstable) + 1;
  }

  maxAppliableIndex(allowUnstable: boolean): number {
    return allowUnstable ? this.committed : Math.min(this.committed, this.unstable.offset - 1);
  }

  nextUnstableSnapshot(): Snapshot | undefined {
    return this.unstable.nextSnapshot();
  }

  hasNextUnstableSnapshot(): boolean {
    return this.unstable.nextSnapshot() !== undefined;
  }

  hasNextOrInProgressSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** The snapshot to send to a lagging follower; may throw ErrSnapshotTemporarilyUnavailable. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    if (this.lastIndex() < toCommit) {
      panic(
        `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. ` +
          'Was the raft log corrupted, truncated, or lost?',
      );
    }
    this.committed = toCommit;
  }

  appliedTo(i: number, size: number): void {
    if (this.committed < i || i < this.applied) {
      panic(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    this.applying = Math.max(this.applying, i);
    this.applyingEntsSize = Math.max(0, this.applyingEntsSize - size);
    this.applyingEntsPaused = this.applyingEntsSize >= this.maxApplyingEntsSize;
  }

  /** Entries up to i (size bytes) were handed out in a Ready. */
  acceptApplying(i: number, size: number, allowUnstable: boolean): void {
    if (this.committed < i)
      panic(`applying(${i}) is out of range [prevApplying(${this.applying}), committed(${this.committed})]`);
    this.applying = i;
    this.applyingEntsSize += size;
    // Pause when over budget, or when the size limit cut the batch short of what is appliable.
    this.applyingEntsPaused =
      this.applyingEntsSize >= this.maxApplyingEntsSize || i < this.maxAppliableIndex(allowUnstable);
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  acceptUnstable(): void {
    this.unstable.acceptInProgress();
  }

  lastTerm(): number {
    const t = this.termOrUndefined(this.lastIndex());
    if (t === undefined) panic(`unexpected error when getting the last term`);
    return t;
  }

  /** Term of entry i, for i in [firstIndex()-1, lastIndex()]; throws ErrCompacted / ErrUnavailable otherwise. */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    // The entry just before firstIndex is compacted, but its term is still known for matching.
    if (i + 1 < this.firstIndex()) throw new ErrCompacted();
    if (i > this.lastIndex()) throw new ErrUnavailable();
    return this.storage.term(i);
  }

  /** term(i), or undefined when i is compacted or past the end (other errors still throw). */
  termOrUndefined(i: number): number | undefined {
    try {
      return this.term(i);
    } catch (e) {
      if (e instanceof ErrCompacted || e instanceof ErrUnavailable) return undefined;
      throw e;
    }
  }

  /** term(i), or 0 when compacted or unavailable. */
  zeroTermOnOutOfBounds(i: number): number {
    return this.termOrUndefined(i) ?? 0;
  }

  /** Entries from i to the end, cut to maxSize; throws ErrCompacted if i is compacted. */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    for (;;) {
      try {
        return this.entries(this.firstIndex(), NO_LIMIT);
      } catch (e) {
        if (!(e instanceof ErrCompacted)) throw e;
      }
    }
  }

  /** Whether a log ending at (lastIndex, term) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lasti: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    return this.termOrUndefined(i) === term;
  }

  /** Commits up to maxIndex if that entry is from `term` (a leader only counts its own term's entries). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && term !== 0 && this.zeroTermOnOutOfBounds(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), cut to maxSize; throws ErrCompacted if lo is compacted. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.checkOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const uoff = this.unstable.offset;
    let ents: Entry[] = [];
    if (lo < uoff) {
      const stop = Math.min(hi, uoff);
      let stored: Entry[];
      try {
        stored = this.storage.entries(lo, stop, maxSize);
      } catch (e) {
        if (e instanceof ErrUnavailable) panic(`entries[${lo}:${stop}) is unavailable from storage`);
        throw e;
      }
      // Storage cut the batch for size: that is all we return.
      if (stored.length < stop - lo) return stored;
      ents = stored;
    }
    if (hi > uoff) {
      const u = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length > 0 ? [...ents, ...u] : u;
    }
    return limitSize(ents, maxSize);
  }

  private checkOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) panic(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new ErrCompacted();
    const last = this.lastIndex();
    if (hi > last + 1) panic(`slice[${lo},${hi}) out of bound [${fi},${last}]`);
  }
}
