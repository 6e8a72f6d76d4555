// A binary min-heap of timed events; ties break by insertion order so a seed replays exactly.

interface Item<T> {
  t: number;
  seq: number;
  ev: T;
}

export class EventQueue<T> {
  private heap: Item<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(t: number, ev: T): void {
    const h = this.heap;
    h.push({ t, seq: this.seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): { t: number; ev: T } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return { t: top.t, ev: top.ev };
  }
}

function less<T>(a: Item<T>, b: Item<T>): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
