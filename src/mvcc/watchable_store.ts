// Watchers over the MVCC store (etcd's watchable store). A watcher is synced (it has seen everything up
// to the store's revision and is notified when a write txn ends) or unsynced (it is behind: history
// replay, or it was too slow to take events). Unsynced watchers catch up from the backend in batches,
// so a slow watcher never blocks writes or other watchers, and what it holds in memory stays bounded.

export interface WatchKV {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  lease: bigint;
}

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  kv: WatchKV;
  prevKv?: WatchKV | undefined;
}

/** What a watcher's owner receives; `compactRevision` set means the watcher is gone (history lost). */
export interface WatchDelivery {
  events: WatchEvent[];
  revision: number;
  compactRevision?: number;
}

/** The store as the watchers need it. */
export interface WatchSource {
  rev(): number;
  compactRev(): number;
  /** Events with revisions in [from, to], in order, from committed history. */
  history(from: number, to: number): Promise<WatchEvent[]>;
  /** The value of `key` just before revision `rev` (for prev_kv), undefined if none or compacted. */
  prevKv(key: Buffer, rev: number): WatchKV | undefined;
}

export interface WatcherOptions {
  key: Buffer;
  /** undefined: just the key; empty: every key >= key; else [key, end). */
  end: Buffer | undefined;
  /** First revision to deliver. */
  startRev: number;
  noPut: boolean;
  noDelete: boolean;
  prevKv: boolean;
  /**
   * Delivers events. Returns false when the receiver is congested: the watcher then stops taking live
   * events and catches up from history later.
   */
  send(d: WatchDelivery): boolean;
}

export class Watcher {
  /** The next revision this watcher needs. */
  nextRev: number;
  synced = false;
  closed = false;
  private readonly keyStr: string;
  private readonly endStr: string | undefined;

  constructor(readonly opts: WatcherOptions) {
    this.nextRev = opts.startRev;
    this.keyStr = opts.key.toString('latin1');
    this.endStr = opts.end?.toString('latin1');
  }

  matches(key: Buffer): boolean {
    if (this.opts.end === undefined) return key.equals(this.opts.key);
    const k = key.toString('latin1');
    if (k < this.keyStr) return false;
    return this.endStr === '' || k < this.endStr!;
  }

  filter(events: readonly WatchEvent[]): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (const e of events) {
      if (!this.matches(e.kv.key)) continue;
      if (e.type === 'PUT' ? this.opts.noPut : this.opts.noDelete) continue;
      out.push(e);
    }
    return out;
  }
}

/** How many revisions one catch-up read covers. */
const CATCHUP_REVS = 1000;

export class WatchableStore {
  private readonly synced = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly congested = new Set<Watcher>();
  private catchingUp = false;
  private closed = false;

  constructor(private readonly src: WatchSource) {}

  watch(opts: WatcherOptions): Watcher {
    const w = new Watcher(opts);
    const cur = this.src.rev();
    if (w.nextRev <= 0 || w.nextRev > cur) {
      w.nextRev = Math.max(w.nextRev, cur + 1);
      w.synced = true;
      this.synced.add(w);
    } else {
      this.unsynced.add(w);
      this.scheduleCatchUp();
    }
    return w;
  }

  cancel(w: Watcher): void {
    w.closed = true;
    this.synced.delete(w);
    this.unsynced.delete(w);
    this.congested.delete(w);
  }

  /** Called when a write txn that changed something ends (and from nowhere else). */
  notify(events: readonly WatchEvent[], rev: number): void {
    for (const w of this.synced) {
      if (w.nextRev > rev) continue;
      const evs = w.filter(events);
      w.nextRev = rev + 1;
      if (evs.length === 0) continue;
      if (w.opts.prevKv) this.fillPrev(evs);
      if (!w.opts.send({ events: evs, revision: rev })) this.demote(w, rev + 1);
    }
  }

  /** A congested watcher leaves the synced set; it catches up from `nextRev` once it drains. */
  private demote(w: Watcher, nextRev: number): void {
    w.synced = false;
    w.nextRev = nextRev;
    this.synced.delete(w);
    this.unsynced.add(w);
    this.congested.add(w);
  }

  /** The receiver of `w` has room again. */
  resume(w: Watcher): void {
    this.congested.delete(w);
    if (!w.closed && !w.synced) this.scheduleCatchUp();
  }

  /**
   * True when every watcher has been given everything up to the store's revision. Being in the synced
   * set is not enough: during a notify pass the watchers not visited yet still lack the newest revision.
   */
  allSynced(ws: Iterable<Watcher>): boolean {
    const rev = this.src.rev();
    for (const w of ws) if (!w.synced || w.nextRev <= rev) return false;
    return true;
  }

  /** Starts (at most one) catch-up pass. */
  scheduleCatchUp(): void {
    if (this.catchingUp || this.closed) return;
    this.catchingUp = true;
    setImmediate(() => {
      this.catchUp()
        .catch(() => {})
        .finally(() => {
          this.catchingUp = false;
          if (this.unsynced.size > 0 && this.hasRunnable()) this.scheduleCatchUp();
        });
    });
  }

  /** Watchers not waiting on a congested receiver (their last send succeeded or none yet). */
  private hasRunnable(): boolean {
    for (const w of this.unsynced) if (!this.congested.has(w)) return true;
    return false;
  }

  private async catchUp(): Promise<void> {
    const ws = [...this.unsynced].filter((w) => !w.closed && !this.congested.has(w));
    if (ws.length === 0) return;
    const compact = this.src.compactRev();
    const live: Watcher[] = [];
    for (const w of ws) {
      if (w.nextRev <= compact) {
        this.unsynced.delete(w);
        w.closed = true;
        w.opts.send({ events: [], revision: this.src.rev(), compactRevision: compact });
      } else live.push(w);
    }
    if (live.length === 0) return;
    const from = Math.min(...live.map((w) => w.nextRev));
    const cur = this.src.rev();
    const to = Math.min(cur, from + CATCHUP_REVS - 1);
    const events = from <= to ? await this.src.history(from, to) : [];
    for (const w of live) {
      if (w.closed) continue;
      const mine = w.filter(events.filter((e) => e.kv.modRevision >= w.nextRev));
      if (w.opts.prevKv) this.fillPrev(mine);
      let ok = true;
      if (mine.length > 0) ok = w.opts.send({ events: mine, revision: to });
      // A watcher already past this batch (it shares the pass with slower ones) must not go back.
      w.nextRev = Math.max(w.nextRev, to + 1);
      if (!ok) {
        this.congested.add(w);
        continue;
      }
      // Caught up with everything written meanwhile too? Then it joins the synced set.
      if (w.nextRev > this.src.rev()) {
        this.unsynced.delete(w);
        w.synced = true;
        this.synced.add(w);
      }
    }
  }

  /** Adds prev_kv to this watcher's copies of the events (others' copies stay as they are). */
  private fillPrev(evs: WatchEvent[]): void {
    for (let i = 0; i < evs.length; i++) {
      const e = evs[i]!;
      evs[i] = { ...e, prevKv: e.prevKv ?? this.src.prevKv(e.kv.key, e.kv.modRevision) };
    }
  }

  close(): void {
    this.closed = true;
    this.synced.clear();
    this.unsynced.clear();
  }
}
