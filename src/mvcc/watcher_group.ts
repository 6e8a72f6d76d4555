// Synced watchers indexed by what they watch. Watchers with the same key range and filters form one
// group: an event is matched and filtered once per group, not once per watcher, and the group's
// watchers share the resulting event list. Single-key groups are found by a map lookup; range groups
// are kept sorted by start key with the furthest end reached so far, so an event visits only the
// ranges starting at or before its key, walking back until no earlier range reaches past the key.

/** What a group needs of an event. */
export interface KeyedEvent {
  type: 'PUT' | 'DELETE';
  kv: { key: Buffer };
}

/** What watchers of one group have in common. */
export interface GroupSpec {
  key: Buffer;
  /** undefined: just the key; empty: every key >= key; else [key, end). */
  end: Buffer | undefined;
  noPut: boolean;
  noDelete: boolean;
  prevKv: boolean;
}

export class WatcherGroup<W> {
  readonly watchers = new Set<W>();
  /** Latin1 strings compare in byte order. */
  readonly keyStr: string;
  readonly endStr: string | undefined;
  /** The revision of the notify pass that last found events for this group. */
  touchedRev = 0;

  constructor(
    readonly id: string,
    readonly spec: GroupSpec,
  ) {
    this.keyStr = spec.key.toString('latin1');
    this.endStr = spec.end?.toString('latin1');
  }

  /** Whether an event on `key` (latin1) of `type` is for this group. */
  wants(key: string, type: 'PUT' | 'DELETE'): boolean {
    if (type === 'PUT' ? this.spec.noPut : this.spec.noDelete) return false;
    if (this.endStr === undefined) return key === this.keyStr;
    return key >= this.keyStr && (this.endStr === '' || key < this.endStr);
  }
}

export function groupId(s: GroupSpec): string {
  const end = s.end === undefined ? '-' : `+${s.end.toString('hex')}`;
  return `${s.key.toString('hex')}${end}:${+s.noPut}${+s.noDelete}${+s.prevKv}`;
}

export class WatcherIndex<W> {
  private readonly groups = new Map<string, WatcherGroup<W>>();
  private readonly byKey = new Map<string, WatcherGroup<W>[]>();
  /** Range groups in start key order (rebuilt lazily after a change). */
  private ranges: WatcherGroup<W>[] = [];
  /** reach[i]: the largest end of ranges[0..i]; null when one of them has no end. */
  private reach: (string | null)[] = [];
  private rangesSorted = true;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: W, spec: GroupSpec, id = groupId(spec)): WatcherGroup<W> {
    let g = this.groups.get(id);
    if (!g) {
      g = new WatcherGroup<W>(id, spec);
      this.groups.set(id, g);
      if (g.endStr === undefined) {
        const list = this.byKey.get(g.keyStr);
        if (list) list.push(g);
        else this.byKey.set(g.keyStr, [g]);
      } else {
        this.ranges.push(g);
        this.rangesSorted = false;
      }
    }
    if (!g.watchers.has(w)) {
      g.watchers.add(w);
      this.count++;
    }
    return g;
  }

  delete(w: W, g: WatcherGroup<W>): void {
    if (!g.watchers.delete(w)) return;
    this.count--;
    if (g.watchers.size > 0) return;
    this.groups.delete(g.id);
    if (g.endStr === undefined) {
      const list = this.byKey.get(g.keyStr)!.filter((x) => x !== g);
      if (list.length > 0) this.byKey.set(g.keyStr, list);
      else this.byKey.delete(g.keyStr);
    } else {
      this.ranges = this.ranges.filter((x) => x !== g);
      this.rangesSorted = false;
    }
  }

  *all(): IterableIterator<W> {
    for (const g of this.groups.values()) yield* g.watchers;
  }

  clear(): void {
    this.groups.clear();
    this.byKey.clear();
    this.ranges = [];
    this.reach = [];
    this.count = 0;
  }

  private sortRanges(): void {
    this.ranges.sort((a, b) => (a.keyStr < b.keyStr ? -1 : a.keyStr > b.keyStr ? 1 : 0));
    let far: string | null = '';
    this.reach = this.ranges.map((g) => {
      if (far !== null) far = g.endStr === '' ? null : g.endStr! > far ? g.endStr! : far;
      return far;
    });
    this.rangesSorted = true;
  }

  /**
   * The groups that want some of `events`, each with its events in the given order. The lists are
   * fresh arrays; a group appears once, in the order of its first matching event.
   */
  match<E extends KeyedEvent>(events: readonly E[]): [WatcherGroup<W>, E[]][] {
    if (!this.rangesSorted) this.sortRanges();
    const ranges = this.ranges;
    const reach = this.reach;
    const out: [WatcherGroup<W>, E[]][] = [];
    const at = new Map<WatcherGroup<W>, E[]>();
    const take = (g: WatcherGroup<W>, e: E) => {
      const list = at.get(g);
      if (list) list.push(e);
      else {
        const fresh = [e];
        at.set(g, fresh);
        out.push([g, fresh]);
      }
    };
    for (const e of events) {
      const key = e.kv.key.toString('latin1');
      const exact = this.byKey.get(key);
      if (exact) for (const g of exact) if (g.wants(key, e.type)) take(g, e);
      // The last range starting at or before the key, then back while some range may reach past it.
      let lo = 0;
      let hi = ranges.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (ranges[mid]!.keyStr <= key) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo - 1; i >= 0; i--) {
        const r = reach[i]!;
        if (r !== null && r <= key) break;
        const g = ranges[i]!;
        if (g.wants(key, e.type)) take(g, e);
      }
    }
    return out;
  }
}
