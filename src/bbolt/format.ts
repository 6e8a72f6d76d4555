// bbolt's on-disk layout (go.etcd.io/bbolt v1.3.6, the version etcd 3.4 uses), as much as tetcd reads
// and writes. Every page starts with a 16-byte header {id u64, flags u16, count u16, overflow u32};
// a node larger than a page is one page followed by `overflow` more. Integers are little-endian (the
// byte order of the machines etcd runs on). Pages 0 and 1 hold the meta (the newer valid one wins).

export const PAGE_SIZE = 4096;
export const PAGE_HEADER = 16;
/** A leaf element {flags u32, pos u32, ksize u32, vsize u32}; a branch element {pos u32, ksize u32, pgid u64}. */
export const ELEMENT = 16;
/** A bucket's header in its parent's leaf: {root pgid u64, sequence u64}; root 0 = inline bucket. */
export const BUCKET_HEADER = 16;

export const BRANCH_PAGE = 0x01;
export const LEAF_PAGE = 0x02;
export const META_PAGE = 0x04;
export const FREELIST_PAGE = 0x10;
/** A leaf element's flag: the value is a bucket header. */
export const BUCKET_LEAF = 0x01;

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
/** Bytes of the meta struct before its checksum (what the checksum covers). */
export const META_CHECKED = 56;

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** FNV-1a, 64 bits (Go's hash/fnv New64a): the meta page's checksum. */
export function fnv64a(b: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const c of b) h = ((h ^ BigInt(c)) * FNV_PRIME) & MASK;
  return h;
}

export interface Meta {
  pageSize: number;
  root: number;
  freelist: number;
  /** The high-water mark: the number of pages in use. */
  pgid: number;
  txid: number;
}

/** Writes a whole meta page (header and meta) for page `id` into a zeroed page-size buffer. */
export function writeMetaPage(buf: Buffer, id: number, m: Meta): void {
  buf.fill(0);
  buf.writeBigUInt64LE(BigInt(id), 0);
  buf.writeUInt16LE(META_PAGE, 8);
  const o = PAGE_HEADER;
  buf.writeUInt32LE(MAGIC, o);
  buf.writeUInt32LE(VERSION, o + 4);
  buf.writeUInt32LE(m.pageSize, o + 8);
  buf.writeUInt32LE(0, o + 12);
  buf.writeBigUInt64LE(BigInt(m.root), o + 16);
  buf.writeBigUInt64LE(0n, o + 24);
  buf.writeBigUInt64LE(BigInt(m.freelist), o + 32);
  buf.writeBigUInt64LE(BigInt(m.pgid), o + 40);
  buf.writeBigUInt64LE(BigInt(m.txid), o + 48);
  buf.writeBigUInt64LE(fnv64a(buf.subarray(o, o + META_CHECKED)), o + META_CHECKED);
}

/** The meta of a page, or undefined when its magic, version or checksum is wrong. */
export function readMeta(page: Buffer): Meta | undefined {
  const o = PAGE_HEADER;
  if (page.length < o + META_CHECKED + 8) return undefined;
  if (page.readUInt32LE(o) !== MAGIC || page.readUInt32LE(o + 4) !== VERSION) return undefined;
  if (page.readBigUInt64LE(o + META_CHECKED) !== fnv64a(page.subarray(o, o + META_CHECKED))) return undefined;
  return {
    pageSize: page.readUInt32LE(o + 8),
    root: Number(page.readBigUInt64LE(o + 16)),
    freelist: Number(page.readBigUInt64LE(o + 32)),
    pgid: Number(page.readBigUInt64LE(o + 40)),
    txid: Number(page.readBigUInt64LE(o + 48)),
  };
}
