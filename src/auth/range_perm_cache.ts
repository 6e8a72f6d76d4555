// A user's permissions merged over all of its roles (etcd's unifiedRangePermissions): one set of key
// intervals it may read and one it may write. Each set is kept as the union of its intervals, sorted
// and disjoint (touching intervals merged, as etcd's interval tree counts them contiguous), so a check
// is a binary search. Keys compare as bytes; an empty end is +infinity (etcd's BytesAffineComparable).

/** authpb.Permission.Type. */
export const enum PermType {
  READ = 0,
  WRITE = 1,
  READWRITE = 2,
}

/** [begin, end); end undefined = +infinity. */
interface Segment {
  begin: Buffer;
  end: Buffer | undefined;
}

/** a < b with undefined as +infinity. */
function endCmp(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return Buffer.compare(a, b);
}

/** The point interval of `key`: [key, key + "\0"). */
function pointEnd(key: Uint8Array): Buffer {
  const b = Buffer.alloc(key.length + 1);
  b.set(key, 0);
  return b;
}

/** A set of key intervals built once, then only asked. */
export class IntervalSet {
  private segs: Segment[] = [];
  private readonly pending: Segment[] = [];

  /** Adds [begin, end) (end undefined: +infinity). Call seal() after the last add. */
  add(begin: Uint8Array, end: Uint8Array | undefined): void {
    this.pending.push({ begin: Buffer.from(begin), end: end === undefined ? undefined : Buffer.from(end) });
  }

  seal(): this {
    const all = this.pending.sort((a, b) => Buffer.compare(a.begin, b.begin));
    const out: Segment[] = [];
    for (const s of all) {
      // An empty interval (end <= begin) covers nothing.
      if (s.end !== undefined && Buffer.compare(s.end, s.begin) <= 0) continue;
      const last = out[out.length - 1];
      if (last && endCmp(last.end, s.begin) >= 0) {
        if (endCmp(s.end, last.end) > 0) last.end = s.end;
      } else {
        out.push({ begin: s.begin, end: s.end });
      }
    }
    this.pending.length = 0;
    this.segs = out;
    return this;
  }

  /** The last segment whose begin <= key, or undefined. */
  private floor(key: Uint8Array): Segment | undefined {
    const segs = this.segs;
    let lo = 0;
    let hi = segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(segs[mid]!.begin, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? segs[lo - 1] : undefined;
  }

  /** Whether `key` lies in the set (etcd's Intersects of a point). No copy is made of the key. */
  hasPoint(key: Uint8Array): boolean {
    const s = this.floor(key);
    return s !== undefined && endCmp(s.end, key) > 0;
  }

  /** Whether the set covers all of [begin, end) (etcd's Contains); end undefined = +infinity. */
  covers(begin: Uint8Array, end: Uint8Array | undefined): boolean {
    // An empty interval intersects nothing, and etcd's tree answers false for it.
    if (end !== undefined && Buffer.compare(end, begin) <= 0) return false;
    const s = this.floor(begin);
    if (s === undefined) return false;
    if (endCmp(s.end, begin) <= 0) return false;
    return endCmp(s.end, end) >= 0;
  }
}

export interface Permission {
  permType: number;
  key: Uint8Array;
  rangeEnd: Uint8Array;
}

/** What one user may read and write. */
export class UnifiedPerms {
  readonly read = new IntervalSet();
  readonly write = new IntervalSet();

  /** Merges the permissions of the user's roles as etcd's getMergedPerms does. */
  static merge(perms: Iterable<Permission>): UnifiedPerms {
    const u = new UnifiedPerms();
    for (const p of perms) {
      const key = p.key;
      const re = p.rangeEnd;
      let end: Uint8Array | undefined;
      if (re.length === 0) end = pointEnd(key);
      else if (re.length === 1 && re[0] === 0) end = undefined;
      else end = re;
      if (p.permType === PermType.READ || p.permType === PermType.READWRITE) u.read.add(key, end);
      if (p.permType === PermType.WRITE || p.permType === PermType.READWRITE) u.write.add(key, end);
    }
    u.read.seal();
    u.write.seal();
    return u;
  }

  /**
   * etcd's isRangeOpPermitted: no range end checks the key alone; a range end of "\0" means every key
   * from `key` on.
   */
  permitted(key: Uint8Array, rangeEnd: Uint8Array | undefined | null, write: boolean): boolean {
    const set = write ? this.write : this.read;
    if (!rangeEnd || rangeEnd.length === 0) return set.hasPoint(key);
    if (rangeEnd.length === 1 && rangeEnd[0] === 0) return set.covers(key, undefined);
    return set.covers(key, rangeEnd);
  }
}
