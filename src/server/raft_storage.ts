// The raft log in memory, rebuilt from the WAL on start (raft reads it through the Storage interface).
// Same contract as the raft package's MemoryStorage, but appending at the end pushes in place: the
// member appends a batch per Ready to a log of up to --snapshot-count entries, and copying the whole
// array each time showed up as CPU and garbage under load.
import {
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrUnavailable,
  EntryType,
  emptyHardState,
  emptySnapshot,
  limitSize,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  type Storage,
} from '../raft/index.ts';

const placeholder = (index: number, term: number): Entry => ({
  index,
  term,
  type: EntryType.EntryNormal,
  data: new Uint8Array(0),
});

/** ents[0] is a placeholder carrying the index and term of the latest snapshot. */
export class LogStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  private ents: Entry[] = [placeholder(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) {
      throw new Error(`raft storage: entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new ErrUnavailable();
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new ErrCompacted();
    const e = this.ents[i - offset];
    if (e === undefined) throw new ErrUnavailable();
    return e.term;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower receiving one). */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = s;
    this.ents = [placeholder(s.metadata.index, s.metadata.term)];
  }

  /** Records a snapshot of the applied state at index i (<= lastIndex); compaction is separate. */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    if (i > this.lastIndex())
      throw new Error(`raft storage: snapshot ${i} is past lastindex(${this.lastIndex()})`);
    const e = this.ents[i - this.offset()]!;
    this.snap = { data, metadata: { index: i, term: e.term, confState: cs ?? this.snap.metadata.confState } };
    return this.snap;
  }

  /** Discards entries before compactIndex; the entry at compactIndex becomes the placeholder. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      throw new Error(`raft storage: compact ${compactIndex} is past lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const e = this.ents[i]!;
    this.ents = [placeholder(e.index, e.term), ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any stored suffix they overlap; entries already compacted are skipped. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    if (entries[0]!.index + entries.length - 1 < first) return;
    const es = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const at = es[0]!.index - this.offset();
    if (at > this.ents.length) {
      throw new Error(
        `raft storage: missing log entry [last: ${this.lastIndex()}, append at: ${es[0]!.index}]`,
      );
    }
    // A conflicting suffix (a new leader overwrote it) is cut off; the common case appends in place.
    if (at < this.ents.length) this.ents.length = at;
    for (const e of es) this.ents.push(e);
  }

  private offset(): number {
    return this.ents[0]!.index;
  }
}
