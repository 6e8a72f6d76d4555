// A revision {main, sub}: main is the store revision of a write txn, sub the change's place in it.
// In the key bucket it is 17 bytes (8-byte big-endian main, '_', 8-byte big-endian sub) so that byte
// order is revision order, plus a trailing 't' on tombstones.

export interface Revision {
  main: number;
  sub: number;
}

export const REV_BYTES = 17;
const TOMBSTONE = 0x74; // 't'

/** Writes `v` (an integer in [0, 2^53)) as 8 big-endian bytes, in two 32-bit halves (no BigInt). */
export function writeU64BE(b: Buffer, v: number, offset: number): void {
  b.writeUInt32BE(Math.floor(v / 0x1_0000_0000), offset);
  b.writeUInt32BE(v >>> 0, offset + 4);
}

export function revToBytes(r: Revision, tombstone = false): Buffer {
  const b = Buffer.allocUnsafe(tombstone ? REV_BYTES + 1 : REV_BYTES);
  writeU64BE(b, r.main, 0);
  b[8] = 0x5f; // '_'
  writeU64BE(b, r.sub, 9);
  if (tombstone) b[REV_BYTES] = TOMBSTONE;
  return b;
}

export function bytesToRev(b: Uint8Array): Revision {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { main: Number(v.readBigUInt64BE(0)), sub: Number(v.readBigUInt64BE(9)) };
}

export function isTombstone(b: Uint8Array): boolean {
  return b.length === REV_BYTES + 1 && b[REV_BYTES] === TOMBSTONE;
}

export function revLess(a: Revision, b: Revision): boolean {
  return a.main < b.main || (a.main === b.main && a.sub < b.sub);
}

export const revKey = (r: Revision): string => `${r.main}_${r.sub}`;
