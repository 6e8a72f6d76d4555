// The simulated application: a durable list of every applied entry (index, term, type, data), plus the
// configuration as of the last applied entry. Snapshots carry the whole list so a follower that
// receives one can restore the state machine from it.
import { emptyConfState, type ConfState, type Entry, type EntryType } from '../raftpb.ts';

export interface AppliedRecord {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

export class SnapshotDecodeError extends Error {
  constructor(msg: string) {
    super(`state machine snapshot: ${msg}`);
    this.name = 'SnapshotDecodeError';
  }
}

export class StateMachine {
  /** Index and term of the last applied entry (or of the snapshot it was restored from). */
  appliedIndex = 0;
  appliedTerm = 0;
  records: AppliedRecord[] = [];
  confState: ConfState = emptyConfState();

  apply(e: Entry): void {
    this.records.push({ index: e.index, term: e.term, type: e.type, data: e.data });
    this.appliedIndex = e.index;
    this.appliedTerm = e.term;
  }

  /** The state machine's image at its applied index, for a raft snapshot's data. */
  encode(): Uint8Array {
    const w = new Writer();
    w.uvarint(this.records.length);
    for (const r of this.records) {
      w.uvarint(r.index);
      w.uvarint(r.term);
      w.uvarint(r.type);
      w.uvarint(r.data.length);
      w.bytes(r.data);
    }
    return w.finish();
  }

  /** Replaces the state with a snapshot's image. */
  restore(data: Uint8Array, index: number, term: number, cs: ConfState): void {
    const r = new Reader(data);
    const n = r.uvarint();
    const records: AppliedRecord[] = [];
    for (let i = 0; i < n; i++) {
      const idx = r.uvarint();
      const t = r.uvarint();
      const type = r.uvarint() as EntryType;
      const len = r.uvarint();
      records.push({ index: idx, term: t, type, data: r.bytes(len) });
    }
    if (!r.done()) throw new SnapshotDecodeError('trailing bytes');
    const last = records[records.length - 1];
    if (last !== undefined && last.index > index) {
      throw new SnapshotDecodeError(`record ${last.index} beyond snapshot index ${index}`);
    }
    this.records = records;
    this.appliedIndex = index;
    this.appliedTerm = term;
    this.confState = cs;
  }
}

class Writer {
  private buf = new Uint8Array(256);
  private n = 0;

  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }

  uvarint(x: number): void {
    this.grow(8);
    while (x >= 0x80) {
      this.buf[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.buf[this.n++] = x;
  }

  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  uvarint(): number {
    let x = 0;
    let mul = 1;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new SnapshotDecodeError('truncated varint');
      x += (b & 0x7f) * mul;
      if (b < 0x80) return x;
      mul *= 0x80;
    }
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new SnapshotDecodeError('truncated bytes');
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  done(): boolean {
    return this.pos === this.buf.length;
  }
}
