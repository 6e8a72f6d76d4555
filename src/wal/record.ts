// WAL record framing: [u32 length][u32 crc][u8 type][payload], little endian. `length` counts type +
// payload; `crc` is CRC-32C over type + payload, chained from the previous record's crc, so a record
// copied from elsewhere or reordered fails the check as surely as a flipped bit.
import { crc32c } from '../pkg/crc32c.ts';
import {
  decodeConfState,
  decodeEntry as decodeRaftEntry,
  encodeConfState,
  encodeEntryInto,
  entrySize,
} from '../raft/raftpb_codec.ts';
import { EntryType, type ConfState, type Entry as RaftEntry, type HardState } from '../raft/raftpb.ts';

export type { HardState };

export const HEADER_BYTES = 8;

export const enum RecordType {
  Entry = 1,
  HardState = 2,
  Snapshot = 3,
  /** First record of every segment: carries the crc chain across segment files. */
  Crc = 4,
  /** A raftpb.Entry (carries the entry type: normal or conf change). Type 1 is the older, typeless form. */
  RaftEntry = 5,
}

export interface Entry {
  index: number;
  term: number;
  /** Absent means a normal entry. */
  type?: EntryType;
  data: Uint8Array;
}

export interface SnapshotMarker {
  index: number;
  term: number;
  /** The membership at the snapshot (absent in markers written by a single-voter build). */
  confState?: ConfState;
}

/** Header plus type byte: what a record adds to its payload. */
const RECORD_OVERHEAD = HEADER_BYTES + 1;

/** Records framed into one buffer, and the crc the next record chains from. */
export interface Framed {
  buf: Buffer;
  crc: number;
}

/**
 * Completes the record at `off` whose payload (`payloadLen` bytes) is already written after its
 * header: writes type, length and the chained crc (over the type byte and payload, which are
 * contiguous). Returns the crc.
 */
function seal(buf: Buffer, off: number, type: RecordType, payloadLen: number, prevCrc: number): number {
  buf[off + HEADER_BYTES] = type;
  // A plain Uint8Array view: cheaper to make than a Buffer subarray.
  const signed = new Uint8Array(buf.buffer, buf.byteOffset + off + HEADER_BYTES, payloadLen + 1);
  const crc = crc32c(signed, prevCrc);
  buf.writeUInt32LE(payloadLen + 1, off);
  buf.writeUInt32LE(crc, off + 4);
  return crc;
}

/** Copies an encoded `payload` into the record at `off` and seals it. Returns the crc. */
function put(buf: Buffer, off: number, type: RecordType, payload: Uint8Array, prevCrc: number): number {
  buf.set(payload, off + RECORD_OVERHEAD);
  return seal(buf, off, type, payload.length, prevCrc);
}

/** Frames one record whose payload is already encoded. */
export function frame(type: RecordType, payload: Uint8Array, prevCrc: number): Framed {
  const buf = Buffer.allocUnsafe(RECORD_OVERHEAD + payload.length);
  return { buf, crc: put(buf, 0, type, payload, prevCrc) };
}

/** The raftpb form of a WAL entry (an absent type is a normal entry). */
function raftEntry(e: Entry): RaftEntry {
  return e.type === undefined
    ? { index: e.index, term: e.term, type: EntryType.EntryNormal, data: e.data }
    : (e as RaftEntry);
}

/**
 * Frames, in this order, a snapshot marker, `entries` (RaftEntry records) and a hard state (each
 * optional) into one buffer: sizes are computed first and entries encoded in place, so a batch costs
 * one allocation whatever its length. A received snapshot goes first: entries after it in the same
 * batch must survive the replay.
 */
export function frameBatch(
  prevCrc: number,
  snapshot: SnapshotMarker | undefined,
  entries: readonly Entry[],
  hardState: HardState | undefined,
): Framed {
  const snap = snapshot ? encodeSnapshot(snapshot) : undefined;
  const hs = hardState ? encodeHardState(hardState) : undefined;
  let size = 0;
  if (snap) size += RECORD_OVERHEAD + snap.length;
  for (const e of entries) size += RECORD_OVERHEAD + entrySize(raftEntry(e));
  if (hs) size += RECORD_OVERHEAD + hs.length;
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  let crc = prevCrc;
  if (snap) {
    crc = put(buf, off, RecordType.Snapshot, snap, crc);
    off += RECORD_OVERHEAD + snap.length;
  }
  for (const e of entries) {
    const end = encodeEntryInto(raftEntry(e), buf, off + RECORD_OVERHEAD);
    crc = seal(buf, off, RecordType.RaftEntry, end - off - RECORD_OVERHEAD, crc);
    off = end;
  }
  if (hs) {
    crc = put(buf, off, RecordType.HardState, hs, crc);
    off += RECORD_OVERHEAD + hs.length;
  }
  if (off !== size) throw new Error(`wal: framed ${off} bytes, sized ${size}`);
  return { buf, crc };
}

export function decodeEntry(p: Uint8Array): Entry {
  return decodeRaftEntry(p);
}

/** The typeless entry record of older logs: [u64 index][u64 term][data]. */
export function decodeLegacyEntry(p: Buffer): Entry {
  return {
    index: Number(p.readBigUInt64LE(0)),
    term: Number(p.readBigUInt64LE(8)),
    type: EntryType.EntryNormal,
    data: p.subarray(16),
  };
}

export function encodeHardState(h: HardState): Buffer {
  const b = Buffer.allocUnsafe(24);
  b.writeBigUInt64LE(BigInt(h.term), 0);
  b.writeBigUInt64LE(BigInt.asUintN(64, h.vote), 8);
  b.writeBigUInt64LE(BigInt(h.commit), 16);
  return b;
}

export function decodeHardState(p: Buffer): HardState {
  return {
    term: Number(p.readBigUInt64LE(0)),
    vote: p.readBigUInt64LE(8),
    commit: Number(p.readBigUInt64LE(16)),
  };
}

export function encodeSnapshot(s: SnapshotMarker): Buffer {
  const cs = s.confState ? encodeConfState(s.confState) : new Uint8Array(0);
  const b = Buffer.allocUnsafe(16 + cs.length);
  b.writeBigUInt64LE(BigInt(s.index), 0);
  b.writeBigUInt64LE(BigInt(s.term), 8);
  b.set(cs, 16);
  return b;
}

export function decodeSnapshot(p: Buffer): SnapshotMarker {
  const m: SnapshotMarker = { index: Number(p.readBigUInt64LE(0)), term: Number(p.readBigUInt64LE(8)) };
  if (p.length > 16) m.confState = decodeConfState(p.subarray(16));
  return m;
}

export function encodeCrc(crc: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(crc, 0);
  return b;
}
