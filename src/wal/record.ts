// WAL record framing: [u32 length][u32 crc][u8 type][payload], little endian. `length` counts type +
// payload; `crc` is CRC-32C over type + payload, chained from the previous record's crc, so a record
// copied from elsewhere or reordered fails the check as surely as a flipped bit.
import { crc32c } from '../pkg/crc32c.ts';

export const HEADER_BYTES = 8;

export const enum RecordType {
  Entry = 1,
  HardState = 2,
  Snapshot = 3,
  /** First record of every segment: carries the crc chain across segment files. */
  Crc = 4,
}

export interface Entry {
  index: number;
  term: number;
  data: Uint8Array;
}

export interface HardState {
  term: number;
  vote: bigint;
  commit: number;
}

export interface SnapshotMarker {
  index: number;
  term: number;
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

export function encodeEntry(e: Entry): Buffer {
  const b = Buffer.allocUnsafe(16 + e.data.length);
  b.writeBigUInt64LE(BigInt(e.index), 0);
  b.writeBigUInt64LE(BigInt(e.term), 8);
  b.set(e.data, 16);
  return b;
}

export function decodeEntry(p: Buffer): Entry {
  return {
    index: Number(p.readBigUInt64LE(0)),
    term: Number(p.readBigUInt64LE(8)),
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
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64LE(BigInt(s.index), 0);
  b.writeBigUInt64LE(BigInt(s.term), 8);
  return b;
}

export function decodeSnapshot(p: Buffer): SnapshotMarker {
  return { index: Number(p.readBigUInt64LE(0)), term: Number(p.readBigUInt64LE(8)) };
}

export function encodeCrc(crc: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(crc, 0);
  return b;
}
