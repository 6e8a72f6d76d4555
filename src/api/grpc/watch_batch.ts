// How one watcher's pending deliveries become WatchResponses. Consecutive revisions are merged into
// one response up to a size cap (fewer responses is what makes fan-out cheap, and a moderate size keeps
// a client's reassembly cheap too); a revision is never split between responses, except that a single
// revision over --max-request-bytes is sent in fragments to a watcher that asked for them.
import type { WatchEvent } from '../../server/api.ts';
import { eventEntry } from './watch_codec.ts';

/** One delivery from the store, encoded. */
export interface Unit {
  /** Encoded `events` entries, in order. */
  entries: Buffer[];
  /** The revision of each entry. */
  revs: number[];
  bytes: number;
  /** The revision the delivery stands for (>= its events' revisions). */
  revision: number;
}

export function encodeUnit(events: readonly WatchEvent[], revision: number, withPrev: boolean): Unit {
  const entries: Buffer[] = [];
  const revs: number[] = [];
  let bytes = 0;
  for (const e of events) {
    const b = eventEntry(e, withPrev);
    entries.push(b);
    revs.push(e.kv.modRevision);
    bytes += b.length;
  }
  return { entries, revs, bytes, revision };
}

export interface BatchOptions {
  watchId: number;
  /** Merge revisions while a response stays within this many bytes. */
  cap: number;
  /** --max-request-bytes: the size above which a revision is fragmented. */
  max: number;
  fragment: boolean;
  /** The encoded header field for a revision. */
  header(revision: number): Buffer;
}

/** Receives each response: its header field, watch ID, event entries and fragment flag. */
export type ResponseSink = (header: Buffer, watchId: number, entries: Buffer[], fragment: boolean) => void;

/** Calls `out` with each response for `units`, in order. */
export function batchResponses(units: readonly Unit[], o: BatchOptions, out: ResponseSink): void {
  let msg: Buffer[] = [];
  let bytes = 0;
  let rev = 0;
  const emit = () => {
    if (msg.length === 0) return;
    out(o.header(rev), o.watchId, msg, false);
    msg = [];
    bytes = 0;
  };
  for (const u of units) {
    const n = u.entries.length;
    let i = 0;
    while (i < n) {
      // The entries of one revision: i .. j-1.
      const r = u.revs[i]!;
      let j = i;
      let size = 0;
      while (j < n && u.revs[j] === r) size += u.entries[j++]!.length;
      if (bytes > 0 && bytes + size > o.cap) emit();
      if (o.fragment && size > o.max) {
        emit();
        fragments(u.entries.slice(i, j), o.header(r), o, out);
      } else {
        for (let k = i; k < j; k++) msg.push(u.entries[k]!);
        bytes += size;
        rev = r;
      }
      i = j;
    }
    // A response that ends with this delivery's last revision can say the delivery's revision.
    if (msg.length > 0) rev = u.revision;
  }
  emit();
}

/** One revision over the limit, split between events; every part but the last says `fragment`. */
function fragments(entries: Buffer[], header: Buffer, o: BatchOptions, out: ResponseSink): void {
  let part: Buffer[] = [];
  let size = 0;
  for (const e of entries) {
    if (part.length > 0 && size + e.length > o.max) {
      out(header, o.watchId, part, true);
      part = [];
      size = 0;
    }
    part.push(e);
    size += e.length;
  }
  out(header, o.watchId, part, false);
}
