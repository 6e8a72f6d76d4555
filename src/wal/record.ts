// WAL record framing: [u32 length][u32 crc][u8 type][payload], little endian. `length` counts type +
// payload; `crc` is CRC-32C over type + payload, chained from the previous record's crc, so a record
// copied from elsewhere or reordered fails the check as surely as a flipped bit.
import { crc32c } from '../pkg/crc32c.ts';
import {
  decodeConfState,
  decodeEntry as decodeRaftEntry,
  encodeConfState,
  encodeEntry as encodeRaftEntry,
} from '../raft/raftpb_codec.ts';
import { EntryType, type ConfState, type HardState } from '../raft/raftpb.ts';

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

/** Appends one framed record to `out` and returns its crc (the next record chains from it). */
export function frame(out: Buffer[], type: RecordType, payload: Uint8Array, prevCrc: number): number {
  const header = Buffer.allocUnsafe(HEADER_BYTES + 1);
  const typeByte = Uint8Array.of(type);
  const crc = crc32c(payload, crc32c(typeByte, prevCrc));
  header.writeUInt32LE(payload.length + 1, 0);
  header.writeUInt32LE(crc, 4);
  header[8] = type;
  out.push(header, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
  return crc;
}

/** Encodes an entry as a raftpb.Entry (record type RaftEntry). */
export function encodeEntry(e: Entry): Uint8Array {
  return encodeRaftEntry({
    index: e.index,
    term: e.term,
    type: e.type ?? EntryType.EntryNormal,
    data: e.data,
  });
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
