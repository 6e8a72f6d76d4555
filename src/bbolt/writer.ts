// Writes a bbolt database file as a stream, from buckets whose records come in key order: leaves are
// filled as the records come, branches built bottom-up (one pending node per level), a record larger
// than a page gets a node of its own spanning several pages (bbolt's overflow). The meta pages come
// first in the file, so the layout is planned by a first pass over the same records that only counts
// (plan()), and the second pass (pages()) writes. Memory: a page per tree level, or one big record.
//
// The file: pages 0 and 1 the meta, 2 the (empty) freelist, 3 the root bucket's leaf (each bucket's
// name and header), then each bucket's tree in name order. No page is free, as bbolt's tx.Check()
// wants every page below the high-water mark reachable or free.
import {
  BRANCH_PAGE,
  BUCKET_HEADER,
  BUCKET_LEAF,
  ELEMENT,
  FREELIST_PAGE,
  LEAF_PAGE,
  PAGE_HEADER,
  PAGE_SIZE,
  writeMetaPage,
} from './format.ts';

export interface BucketSource {
  name: Buffer;
  /** The bucket's records in ascending byte order of key; called once per pass. */
  records(): Iterable<readonly [Buffer, Buffer]>;
}

export interface BoltPlan {
  /** Bytes of the file (a whole number of pages). */
  size: number;
  /** Each bucket's root page, in the order given. */
  roots: number[];
}

const FREELIST_PGID = 2;
const ROOT_PGID = 3;

const pagesFor = (size: number) => Math.ceil(size / PAGE_SIZE);

function nodePage(id: number, flags: number, count: number, size: number): Buffer {
  const n = pagesFor(size);
  const buf = Buffer.alloc(n * PAGE_SIZE);
  buf.writeBigUInt64LE(BigInt(id), 0);
  buf.writeUInt16LE(flags, 8);
  buf.writeUInt16LE(count, 10);
  buf.writeUInt32LE(n - 1, 12);
  return buf;
}

/** A leaf node: elements then keys and values, each element's pos relative to the element itself. */
function leafPage(id: number, items: (readonly [Buffer, Buffer])[], size: number, flags = 0): Buffer {
  const buf = nodePage(id, LEAF_PAGE, items.length, size);
  let data = PAGE_HEADER + items.length * ELEMENT;
  items.forEach(([k, v], i) => {
    const e = PAGE_HEADER + i * ELEMENT;
    buf.writeUInt32LE(flags, e);
    buf.writeUInt32LE(data - e, e + 4);
    buf.writeUInt32LE(k.length, e + 8);
    buf.writeUInt32LE(v.length, e + 12);
    buf.set(k, data);
    buf.set(v, data + k.length);
    data += k.length + v.length;
  });
  return buf;
}

function branchPage(id: number, keys: Buffer[], pgids: number[], size: number): Buffer {
  const buf = nodePage(id, BRANCH_PAGE, keys.length, size);
  let data = PAGE_HEADER + keys.length * ELEMENT;
  keys.forEach((k, i) => {
    const e = PAGE_HEADER + i * ELEMENT;
    buf.writeUInt32LE(data - e, e);
    buf.writeUInt32LE(k.length, e + 4);
    buf.writeBigUInt64LE(BigInt(pgids[i]!), e + 8);
    buf.set(k, data);
    data += k.length;
  });
  return buf;
}

interface Level {
  keys: Buffer[];
  pgids: number[];
  size: number;
}

/** One bucket's tree, built bottom-up as records come; `out` gets each node (when writing). */
class TreeBuilder {
  private items: (readonly [Buffer, Buffer])[] = [];
  private size = PAGE_HEADER;
  private readonly levels: Level[] = [];
  private emitted = false;

  constructor(
    public next: number,
    private readonly out: Buffer[] | undefined,
  ) {}

  add(k: Buffer, v: Buffer): void {
    const grow = ELEMENT + k.length + v.length;
    if (this.items.length > 0 && this.size + grow > PAGE_SIZE) this.flushLeaf();
    this.items.push([k, v]);
    this.size += grow;
  }

  private flushLeaf(): void {
    const id = this.next;
    this.next += pagesFor(this.size);
    if (this.out) this.out.push(leafPage(id, this.items, this.size));
    this.emitted = true;
    this.push(0, this.items[0]?.[0] ?? Buffer.alloc(0), id);
    this.items = [];
    this.size = PAGE_HEADER;
  }

  /** Adds a child (its first key and page) to the branch level `l` (0: just above the leaves). */
  private push(l: number, key: Buffer, pgid: number): void {
    let lv = this.levels[l];
    if (!lv) this.levels.push((lv = { keys: [], pgids: [], size: PAGE_HEADER }));
    const grow = ELEMENT + key.length;
    if (lv.keys.length > 0 && lv.size + grow > PAGE_SIZE) this.flushBranch(l);
    lv.keys.push(key);
    lv.pgids.push(pgid);
    lv.size += grow;
  }

  private flushBranch(l: number): void {
    const lv = this.levels[l]!;
    const id = this.next;
    this.next += pagesFor(lv.size);
    if (this.out) this.out.push(branchPage(id, lv.keys, lv.pgids, lv.size));
    const first = lv.keys[0]!;
    // Emptied in place: push() holds this level while it flushes it.
    lv.keys = [];
    lv.pgids = [];
    lv.size = PAGE_HEADER;
    this.push(l + 1, first, id);
  }

  /** Writes what is pending and returns the root page. */
  finish(): number {
    if (this.items.length > 0 || !this.emitted) this.flushLeaf();
    for (let l = 0; ; l++) {
      const lv = this.levels[l]!;
      if (l === this.levels.length - 1 && lv.keys.length === 1) return lv.pgids[0]!;
      this.flushBranch(l);
    }
  }
}

const sortedByName = (buckets: readonly BucketSource[]) =>
  [...buckets].sort((a, b) => Buffer.compare(a.name, b.name));

function rootLeafSize(buckets: readonly BucketSource[]): number {
  let size = PAGE_HEADER;
  for (const b of buckets) size += ELEMENT + b.name.length + BUCKET_HEADER;
  return size;
}

/** Records between the first pass's pauses (see planning()). */
const PLAN_SLICE = 4096;

/**
 * The first pass: where every bucket's tree goes and how big the file is; writes nothing. A generator
 * that pauses every few thousand records, so a caller on the event loop can let other work run;
 * its return value is the plan.
 */
export function* planning(buckets: readonly BucketSource[]): Generator<void, BoltPlan> {
  const order = sortedByName(buckets);
  let next = ROOT_PGID + pagesFor(rootLeafSize(order));
  const rootOf = new Map<BucketSource, number>();
  let n = 0;
  for (const b of order) {
    const t = new TreeBuilder(next, undefined);
    for (const [k, v] of b.records()) {
      t.add(k, v);
      if (++n % PLAN_SLICE === 0) yield;
    }
    rootOf.set(b, t.finish());
    next = t.next;
  }
  return { size: next * PAGE_SIZE, roots: buckets.map((b) => rootOf.get(b)!) };
}

/** planning() in one go. */
export function plan(buckets: readonly BucketSource[]): BoltPlan {
  const it = planning(buckets);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * The second pass: the file, in buffers of whole pages, in file order. The records must be the same
 * as plan() saw (one read transaction for both); a difference is a bug and throws.
 */
export function* pages(buckets: readonly BucketSource[], p: BoltPlan, txid = 1): Generator<Buffer> {
  const pgid = p.size / PAGE_SIZE;
  for (const id of [0, 1]) {
    const meta = Buffer.alloc(PAGE_SIZE);
    writeMetaPage(meta, id, {
      pageSize: PAGE_SIZE,
      root: ROOT_PGID,
      freelist: FREELIST_PGID,
      pgid,
      txid: txid + id - 1,
    });
    yield meta;
  }
  const freelist = Buffer.alloc(PAGE_SIZE);
  freelist.writeBigUInt64LE(BigInt(FREELIST_PGID), 0);
  freelist.writeUInt16LE(FREELIST_PAGE, 8);
  yield freelist;

  const order = sortedByName(buckets);
  const rootOf = new Map(buckets.map((b, i) => [b, p.roots[i]!]));
  const entries = order.map((b) => {
    const h = Buffer.alloc(BUCKET_HEADER);
    h.writeBigUInt64LE(BigInt(rootOf.get(b)!), 0);
    return [b.name, h] as const;
  });
  const rootSize = rootLeafSize(order);
  yield leafPage(ROOT_PGID, entries, rootSize, BUCKET_LEAF);

  let next = ROOT_PGID + pagesFor(rootSize);
  const out: Buffer[] = [];
  for (const b of order) {
    const t = new TreeBuilder(next, out);
    for (const [k, v] of b.records()) {
      t.add(k, v);
      while (out.length) yield out.shift()!;
    }
    const root = t.finish();
    while (out.length) yield out.shift()!;
    if (root !== rootOf.get(b)) throw new Error(`bbolt: bucket ${b.name.toString()} changed between passes`);
    next = t.next;
  }
  if (next * PAGE_SIZE !== p.size) throw new Error('bbolt: file size changed between passes');
}
