// Reads a bbolt database file (an etcd snapshot or an etcd member's db) by walking its pages: the
// newer valid meta page, the root bucket's leaf, then each bucket's tree depth first. Pages are read
// one node at a time with positional reads into one reused buffer per tree level, so memory is a node
// per level whatever the file's size. One walk at a time: records() generators must not interleave.
// Inline buckets (a small bucket stored in its parent's leaf value) are read from that value.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import {
  BRANCH_PAGE,
  BUCKET_HEADER,
  BUCKET_LEAF,
  ELEMENT,
  LEAF_PAGE,
  PAGE_HEADER,
  readMeta,
  type Meta,
} from './format.ts';

export class BoltFormatError extends Error {}

/** A bucket as its parent's leaf holds it: its root page, or its inline node. */
interface BucketRef {
  root: number;
  inline: Buffer | undefined;
}

export class BoltReader {
  readonly meta: Meta;
  private readonly fileSize: number;
  private readonly head = Buffer.alloc(PAGE_HEADER);
  /** One node buffer per tree level, reused (see node()). */
  private readonly levels: Buffer[] = [];

  private constructor(private readonly fd: number) {
    this.fileSize = fstatSync(fd).size;
    const m0 = this.metaAt(0, 4096);
    const metas = [m0];
    // The second meta is one page further; the page size comes from whichever meta is valid.
    const size = m0?.pageSize ?? 4096;
    metas.push(this.metaAt(size, size));
    const valid = metas.filter((m): m is Meta => m !== undefined);
    if (valid.length === 0) throw new BoltFormatError('not a bbolt database (no valid meta page)');
    this.meta = valid.reduce((a, b) => (b.txid > a.txid ? b : a));
    if (this.meta.pgid * this.meta.pageSize > this.fileSize)
      throw new BoltFormatError(
        `bbolt file is truncated: ${this.fileSize} bytes, its meta says ${this.meta.pgid * this.meta.pageSize}`,
      );
  }

  static open(path: string): BoltReader {
    const fd = openSync(path, 'r');
    try {
      return new BoltReader(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Bytes in use (the high-water mark times the page size): bbolt's tx.Size(). */
  get size(): number {
    return this.meta.pgid * this.meta.pageSize;
  }

  private metaAt(offset: number, len: number): Meta | undefined {
    if (offset + len > this.fileSize) return undefined;
    const b = Buffer.alloc(len);
    readSync(this.fd, b, 0, len, offset);
    return readMeta(b);
  }

  /**
   * A whole node (its first page, then as many more as its header's overflow says), read into the
   * buffer kept for tree level `depth`: a walk reuses one buffer per level instead of leaving a
   * node's worth of garbage per page read.
   */
  private node(pgid: number, depth: number): Buffer {
    const ps = this.meta.pageSize;
    if (pgid < 2 || pgid >= this.meta.pgid) throw new BoltFormatError(`bbolt: page ${pgid} out of bounds`);
    const head = this.head;
    readSync(this.fd, head, 0, PAGE_HEADER, pgid * ps);
    const overflow = head.readUInt32LE(12);
    if (pgid + overflow >= this.meta.pgid)
      throw new BoltFormatError(`bbolt: page ${pgid} overflows the file`);
    const len = (overflow + 1) * ps;
    let buf = this.levels[depth];
    if (!buf || buf.length < len) this.levels[depth] = buf = Buffer.alloc(Math.max(len, ps));
    readSync(this.fd, buf, 0, len, pgid * ps);
    return buf.subarray(0, len);
  }

  /** The top-level buckets' names, in file order. */
  bucketNames(): Buffer[] {
    const out: Buffer[] = [];
    for (const [k, , flags] of this.walk({ root: this.meta.root, inline: undefined })) {
      if (flags & BUCKET_LEAF) out.push(Buffer.from(k));
    }
    return out;
  }

  /**
   * A top-level bucket's records in key order (nested buckets skipped); empty when it is absent.
   * With `copy` false the key and value are views valid only until the next record is asked for.
   */
  *records(name: Buffer | string, copy = true): Generator<[Buffer, Buffer]> {
    const want = typeof name === 'string' ? Buffer.from(name) : name;
    let ref: BucketRef | undefined;
    for (const [k, v, flags] of this.walk({ root: this.meta.root, inline: undefined })) {
      if (flags & BUCKET_LEAF && k.equals(want)) ref = bucketRef(Buffer.from(v));
    }
    if (!ref) return;
    for (const [k, v, flags] of this.walk(ref)) {
      if (!(flags & BUCKET_LEAF)) yield copy ? [Buffer.from(k), Buffer.from(v)] : [k, v];
    }
  }

  private *walk(ref: BucketRef): Generator<[Buffer, Buffer, number]> {
    if (ref.inline) {
      yield* leafElements(ref.inline);
      return;
    }
    yield* this.walkPage(ref.root, 0);
  }

  private *walkPage(pgid: number, depth: number): Generator<[Buffer, Buffer, number]> {
    if (depth > 64) throw new BoltFormatError('bbolt: tree too deep (a cycle?)');
    const p = this.node(pgid, depth);
    const flags = p.readUInt16LE(8);
    if (flags & LEAF_PAGE) {
      yield* leafElements(p);
    } else if (flags & BRANCH_PAGE) {
      const count = p.readUInt16LE(10);
      for (let i = 0; i < count; i++) {
        const child = Number(p.readBigUInt64LE(PAGE_HEADER + i * ELEMENT + 8));
        yield* this.walkPage(child, depth + 1);
      }
    } else throw new BoltFormatError(`bbolt: page ${pgid} has type ${flags}, not a branch or leaf`);
  }
}

function bucketRef(v: Buffer): BucketRef {
  if (v.length < BUCKET_HEADER) throw new BoltFormatError('bbolt: short bucket header');
  const root = Number(v.readBigUInt64LE(0));
  return { root, inline: root === 0 ? v.subarray(BUCKET_HEADER) : undefined };
}

/** A leaf node's elements [key, value, flags], as views into the node's buffer. */
function* leafElements(p: Buffer): Generator<[Buffer, Buffer, number]> {
  const count = p.readUInt16LE(10);
  for (let i = 0; i < count; i++) {
    const e = PAGE_HEADER + i * ELEMENT;
    const flags = p.readUInt32LE(e);
    const pos = e + p.readUInt32LE(e + 4);
    const ks = p.readUInt32LE(e + 8);
    const vs = p.readUInt32LE(e + 12);
    if (pos + ks + vs > p.length) throw new BoltFormatError('bbolt: leaf element beyond its node');
    yield [p.subarray(pos, pos + ks), p.subarray(pos + ks, pos + ks + vs), flags];
  }
}
