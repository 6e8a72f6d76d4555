// Just enough HPACK (RFC 7541) for the HTTP/2 front (h2_server.ts): the prefix-integer and string
// codecs, a decoder that tracks the dynamic table across a connection's request header blocks, and
// an encoder that writes every field as a literal without indexing (so the client's table never
// changes and nothing has to be tracked for the answers).
import { huffmanDecode } from './huffman.ts';

/** A decoded integer and the offset just after it. */
export interface Decoded<T> {
  value: T;
  next: number;
}

/** Integers above this are refused: no index, length or table size we accept comes near it. */
const MAX_INT = 2 ** 28;

/** Reads an integer with an N-bit prefix (RFC 7541 5.1) at buf[pos]; undefined if short or huge. */
export function readInt(buf: Uint8Array, pos: number, prefixBits: number): Decoded<number> | undefined {
  if (pos >= buf.length) return undefined;
  const mask = 2 ** prefixBits - 1;
  let value = buf[pos]! & mask;
  let next = pos + 1;
  if (value < mask) return { value, next };
  let shift = 1;
  for (;;) {
    if (next >= buf.length) return undefined;
    const b = buf[next++]!;
    value += (b & 0x7f) * shift;
    if (value > MAX_INT) return undefined;
    if ((b & 0x80) === 0) return { value, next };
    shift *= 128;
  }
}

/** Encodes `value` with an N-bit prefix; `flags` are the bits above the prefix in the first byte. */
export function writeInt(value: number, prefixBits: number, flags: number): Buffer {
  const mask = 2 ** prefixBits - 1;
  if (value < mask) return Buffer.from([flags | value]);
  const out = [flags | mask];
  let rest = value - mask;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Reads a string literal (RFC 7541 5.2), decoding Huffman; undefined if short or malformed. */
export function readString(buf: Buffer, pos: number): Decoded<Buffer> | undefined {
  const len = readInt(buf, pos, 7);
  if (!len || len.next + len.value > buf.length) return undefined;
  const raw = buf.subarray(len.next, len.next + len.value);
  const value = (buf[pos]! & 0x80) !== 0 ? huffmanDecode(raw) : raw;
  return value && { value, next: len.next + len.value };
}

/** Encodes a raw (not Huffman-coded) string literal. */
export function writeString(value: Uint8Array): Buffer {
  return Buffer.concat([writeInt(value.length, 7, 0), value]);
}

/** RFC 7541 Appendix A: the static table, entries 1..61 (name, value). */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** The entry overhead of RFC 7541 4.1: an entry's size is name + value length + 32. */
const ENTRY_OVERHEAD = 32;

/** A header field as decoded (names and values as latin1 strings, byte for byte). */
export type Field = readonly [name: string, value: string];

/**
 * RFC 9113 8.2.1: a field name is lowercase tokens characters (a colon only first, for a
 * pseudo-header), not empty; a value holds no NUL, CR or LF.
 */
const NAME = /^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const BAD_VALUE = /[\0\r\n]/;

/** Whether a field is well-formed HTTP (RFC 9113 8.2.1). */
export function validField(name: string, value: string): boolean {
  return NAME.test(name) && !BAD_VALUE.test(value);
}

/**
 * The decoding state of one direction of one connection: feed it every header block in order.
 * After a malformed block its state is unknown, so the caller must stop using it (a connection
 * error, COMPRESSION_ERROR, in HTTP/2).
 */
export class HeaderDecoder {
  /** Dynamic table, newest first. */
  private table: Field[] = [];
  private size = 0;
  private maxSize: number;

  /** `limit` is the SETTINGS_HEADER_TABLE_SIZE this end announced: no size update may exceed it. */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  /** Current dynamic table size in RFC 7541 terms (for tests and checks). */
  get tableSize(): number {
    return this.size;
  }

  /**
   * The header list size of the last block decoded (RFC 7541 4.1 sizes: name + value + 32 per
   * field, SETTINGS_MAX_HEADER_LIST_SIZE's measure), counted in full even past the limit.
   */
  listSize = 0;
  /** The last block's list passed `maxList`: the fields returned stop before the one that did. */
  truncated = false;
  /**
   * The last block held a field that is not well-formed HTTP (validField): a malformed request, a
   * stream error, while the block itself decoded fine. Literals are checked as they are decoded;
   * entries of the dynamic table that failed are remembered, so a reference to one fails too.
   */
  invalid = false;
  private readonly invalidEntries = new Set<Field>();

  /**
   * The fields of `block`, in order; undefined if the block is malformed. Fields past `maxList`
   * bytes of header list are not materialised (`truncated` tells), but the whole block is still
   * decoded so that the dynamic table stays in step with the encoder's.
   */
  decode(block: Buffer, maxList = Infinity): Field[] | undefined {
    const fields: Field[] = [];
    let list = 0;
    let truncated = false;
    let invalid = false;
    const checkEntries = this.invalidEntries.size > 0;
    let pos = 0;
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        // An index below 127 fits the first byte: the common case, read without allocating.
        if (b !== 0xff) {
          const f = this.entry(b & 0x7f);
          if (!f) return undefined;
          if (checkEntries && this.invalidEntries.has(f)) invalid = true;
          list += f[0].length + f[1].length + ENTRY_OVERHEAD;
          if (list > maxList) truncated = true;
          else fields.push(f);
          pos++;
          continue;
        }
        const idx = readInt(block, pos, 7);
        const f = idx && this.entry(idx.value);
        if (!f) return undefined;
        if (checkEntries && this.invalidEntries.has(f)) invalid = true;
        list += f[0].length + f[1].length + ENTRY_OVERHEAD;
        if (list > maxList) truncated = true;
        else fields.push(f);
        pos = idx.next;
        continue;
      }
      if ((b & 0xe0) === 0x20) {
        // A table size update comes first in a block or not at all (RFC 7541 4.2).
        if (list > 0) return undefined;
        const max = readInt(block, pos, 5);
        if (!max || max.value > this.limit) return undefined;
        this.maxSize = max.value;
        this.evict(0);
        pos = max.next;
        continue;
      }
      const indexing = (b & 0xc0) === 0x40;
      const nameIdx = readInt(block, pos, indexing ? 6 : 4);
      if (!nameIdx) return undefined;
      let name: string;
      pos = nameIdx.next;
      if (nameIdx.value === 0) {
        const n = readString(block, pos);
        if (!n) return undefined;
        name = n.value.toString('latin1');
        pos = n.next;
      } else {
        const f = this.entry(nameIdx.value);
        if (!f) return undefined;
        name = f[0];
      }
      const v = readString(block, pos);
      if (!v) return undefined;
      pos = v.next;
      const field: Field = [name, v.value.toString('latin1')];
      list += name.length + field[1].length + ENTRY_OVERHEAD;
      if (list > maxList) truncated = true;
      else fields.push(field);
      const valid = validField(name, field[1]);
      if (!valid) invalid = true;
      if (indexing) this.add(field, valid);
    }
    this.listSize = list;
    this.truncated = truncated;
    this.invalid = invalid;
    return fields;
  }

  private entry(index: number): Field | undefined {
    if (index === 0) return undefined;
    return index <= STATIC.length ? STATIC[index - 1] : this.table[index - STATIC.length - 1];
  }

  private add(f: Field, valid: boolean): void {
    const s = f[0].length + f[1].length + ENTRY_OVERHEAD;
    this.evict(s);
    if (s > this.maxSize) return; // RFC 7541 4.4: a too-large entry empties the table
    this.table.unshift(f);
    this.size += s;
    if (!valid) this.invalidEntries.add(f);
  }

  /** Evicts the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.maxSize) {
      const old = this.table.pop()!;
      this.size -= old[0].length + old[1].length + ENTRY_OVERHEAD;
      this.invalidEntries.delete(old);
    }
  }
}

/** One header field as a literal without indexing, new name, raw strings (RFC 7541 6.2.2). */
export function encodeField(name: string, value: string): Buffer {
  return Buffer.concat([
    ZERO,
    writeString(Buffer.from(name, 'latin1')),
    writeString(Buffer.from(value, 'latin1')),
  ]);
}
const ZERO = Buffer.from([0]);
