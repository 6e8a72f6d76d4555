// CRC-32C (Castagnoli), table driven, slicing-by-8: eight bytes per step through eight tables (about
// four times fewer table steps than one byte at a time). Used by the WAL record chain and hashes.

const POLY = 0x82f63b78;

/** T[k * 256 + b]: the CRC of byte b followed by k zero bytes. T[0..255] is the classic table. */
const T: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (t[prev & 0xff]! ^ (prev >>> 8)) >>> 0;
    }
  }
  return t;
})();

/** Extends `crc` (the CRC of earlier bytes, 0 to start) with `data`. */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n & 7);
  while (i < end8) {
    const lo = (c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    c =
      T[7 * 256 + (lo & 0xff)]! ^
      T[6 * 256 + ((lo >>> 8) & 0xff)]! ^
      T[5 * 256 + ((lo >>> 16) & 0xff)]! ^
      T[4 * 256 + (lo >>> 24)]! ^
      T[3 * 256 + data[i + 4]!]! ^
      T[2 * 256 + data[i + 5]!]! ^
      T[256 + data[i + 6]!]! ^
      T[data[i + 7]!]!;
    i += 8;
  }
  for (; i < n; i++) c = T[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
