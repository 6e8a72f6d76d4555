// The newest revisions' events, as the store notified them, bounded by revisions and bytes. A watcher
// that fell behind briefly (its stream was congested) catches up from here without a backend read
// (which first has to commit the backend's pending batch); older ranges still come from the backend.

interface SizedEvent {
  kv: { key: Buffer; value: Buffer };
}

export class RecentEvents<E extends SizedEvent> {
  private revs: number[] = [];
  private evs: (readonly E[])[] = [];
  private sizes: number[] = [];
  /** Index of the oldest kept revision in the arrays. */
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly maxRevs: number,
    private readonly maxBytes: number,
  ) {}

  /** Records the events of `rev`; a gap (a revision not seen) drops what was held. */
  add(rev: number, events: readonly E[]): void {
    const last = this.revs.length > this.head ? this.revs[this.revs.length - 1]! : undefined;
    if (last !== undefined && rev !== last + 1) this.clear();
    let size = 64;
    for (const e of events) size += 64 + e.kv.key.length + e.kv.value.length;
    this.revs.push(rev);
    this.evs.push(events);
    this.sizes.push(size);
    this.bytes += size;
    while (
      this.revs.length - this.head > this.maxRevs ||
      (this.bytes > this.maxBytes && this.head < this.revs.length)
    ) {
      this.bytes -= this.sizes[this.head]!;
      this.evs[this.head] = [];
      this.head++;
    }
    // Drop the consumed front now and then, so the arrays stay about as long as what they hold.
    if (this.head > 1024 && this.head * 2 > this.revs.length) {
      this.revs = this.revs.slice(this.head);
      this.evs = this.evs.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  /** The events of revisions [from, to] in order, or undefined unless every one of them is held. */
  range(from: number, to: number): E[] | undefined {
    if (this.revs.length === this.head || from > to) return undefined;
    const first = this.revs[this.head]!;
    const last = this.revs[this.revs.length - 1]!;
    if (from < first || to > last) return undefined;
    const out: E[] = [];
    for (let i = this.head + (from - first); i <= this.head + (to - first); i++)
      for (const e of this.evs[i]!) out.push(e);
    return out;
  }

  clear(): void {
    this.revs = [];
    this.evs = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
  }
}
