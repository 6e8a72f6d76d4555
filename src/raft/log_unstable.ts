// The not-yet-durable tail of the raft log (and a snapshot not yet applied to storage). Entries stay
// here after being handed to a Ready ("in progress") until advance() says they are stable, so reads of
// the log see them in the meantime.
import type { Entry, Snapshot } from './raftpb.ts';
import { panic } from './util.ts';

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  /** entries[i] has log index offset + i. */
  entries: Entry[] = [];
  offset: number;
  snapshotInProgress = false;
  /** entries below this index have been handed to a Ready (exclusive bound; offset <= offsetInProgress). */
  offsetInProgress: number;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** First index implied by an unstable snapshot, if there is one. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i)
        return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** Entries not yet handed to a Ready. */
  nextEntries(): Entry[] {
    const inProgress = this.offsetInProgress - this.offset;
    return inProgress >= this.entries.length ? [] : this.entries.slice(inProgress);
  }

  nextSnapshot(): Snapshot | undefined {
    return this.snapshotInProgress ? undefined : this.snapshot;
  }

  /** Marks everything currently held as handed to a Ready. */
  acceptInProgress(): void {
    if (this.entries.length > 0) this.offsetInProgress = this.entries[this.entries.length - 1]!.index + 1;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * Entries up to (index, term) are durable. Ignored if that entry is gone or was replaced by one of
   * another term meanwhile (the write that finished was of the old entry).
   */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || index < this.offset || t !== term) return;
    const n = index + 1 - this.offset;
    this.entries = this.entries.slice(n);
    this.offset = index + 1;
    this.offsetInProgress = Math.max(this.offsetInProgress, this.offset);
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  /** Appends ents, first dropping any held entries at or after ents[0].index. */
  truncateAndAppend(ents: readonly Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    if (from === this.offset + this.entries.length) {
      this.entries = [...this.entries, ...ents];
    } else if (from <= this.offset) {
      // Replaces everything held, and possibly stable entries too (the driver's next append truncates).
      this.entries = [...ents];
      this.offset = from;
      this.offsetInProgress = from;
    } else {
      this.entries = [...this.slice(this.offset, from), ...ents];
      this.offsetInProgress = Math.min(this.offsetInProgress, from);
    }
  }

  /** Entries in [lo, hi), all of which must be held here. */
  slice(lo: number, hi: number): Entry[] {
    if (lo > hi) panic(`invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (lo < this.offset || hi > upper)
      panic(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
