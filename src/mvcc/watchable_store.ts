// Watchers over the MVCC store (etcd's watchable store). A watcher is synced (it has seen everything up
// to the store's revision and is notified when a write txn ends) or unsynced (it is behind: history
// replay, or it was too slow to take events). Unsynced watchers catch up from the backend in batches,
// so a slow watcher never blocks writes or other watchers, and what it holds in memory stays bounded.
// Synced watchers are indexed by range and filters (watcher_group.ts): a write visits only the
// watchers it concerns, and watchers of the same range share one filtered event list.
import { WatcherIndex, groupId, type WatcherGroup } from './watcher_group.ts';
import { RecentEvents } from './watch_recent.ts';
import { counts } from '../pkg/metrics.ts';
import { sabotaged } from '../pkg/sabotage.ts';

/** The robustness suite's watch-skip sabotage, spent on its first use; never on without TETCD_SABOTAGE. */
let watchSkip = sabotaged('watch-skip');

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

/**
 * What a watcher's owner receives; `compactRevision` set means the watcher is gone (history lost).
 * Watchers of the same range and filters are handed the same object: receivers must not modify it.
 */
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
  /** The index group while synced. */
  group: WatcherGroup<Watcher> | undefined;
  private readonly keyStr: string;
  private readonly endStr: string | undefined;

  /** Equal for watchers of the same range, filters and prev_kv choice. */
  readonly specId: string;

  constructor(readonly opts: WatcherOptions) {
    this.specId = groupId(opts);
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

/** The index of the first event at or after revision `rev` (events are in revision order). */
function firstFrom(evs: readonly WatchEvent[], rev: number): number {
  let lo = 0;
  let hi = evs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (evs[mid]!.kv.modRevision < rev) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many revisions one catch-up read covers. */
const CATCHUP_REVS = 1000;
/** The newest events kept in memory for catch-up (revisions, approximate bytes). */
const RECENT_REVS = 4096;
const RECENT_BYTES = 8 << 20;

export class WatchableStore {
  private readonly synced = new WatcherIndex<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private readonly congested = new Set<Watcher>();
  private catchingUp = false;
  private closed = false;
  /** The revision of the notify pass under way, 0 outside one. */
  private passRev = 0;
  private readonly recent = new RecentEvents<WatchEvent>(RECENT_REVS, RECENT_BYTES);

  /**
   * `onError` hears an error of a catch-up pass (a bug: a store read failing). By default it is thrown
   * again, uncaught; the member passes its fail-stop.
   */
  constructor(
    private readonly src: WatchSource,
    private readonly onError: (err: unknown) => void = (err) =>
      queueMicrotask(() => {
        throw err;
      }),
  ) {}

  watch(opts: WatcherOptions): Watcher {
    const w = new Watcher(opts);
    const cur = this.src.rev();
    if (w.nextRev <= 0 || w.nextRev > cur) {
      w.nextRev = Math.max(w.nextRev, cur + 1);
      this.join(w);
    } else {
      this.unsynced.add(w);
      this.scheduleCatchUp();
    }
    return w;
  }

  /** Watchers in all, and those behind the store (etcd's watcher and slow watcher gauges). */
  watcherCounts(): { watchers: number; slow: number } {
    // Congested watchers are among the unsynced ones.
    const slow = this.unsynced.size;
    return { watchers: this.synced.size + slow, slow };
  }

  cancel(w: Watcher): void {
    w.closed = true;
    this.leave(w);
    this.unsynced.delete(w);
    this.congested.delete(w);
  }

  /** Called when a write txn that changed something ends (and from nowhere else). */
  notify(events: readonly WatchEvent[], rev: number): void {
    this.recent.add(rev, events);
    if (this.synced.size === 0) return;
    const matched = this.synced.match(events);
    if (matched.length === 0) return;
    // Until visited, the watchers of these groups lack `rev` (see allSynced); nobody else needs it.
    for (const [g] of matched) g.touchedRev = rev;
    const outer = this.passRev;
    this.passRev = rev;
    let prevs: Map<WatchEvent, WatchEvent> | undefined;
    try {
      for (const [g, evs] of matched) {
        let d: WatchDelivery | undefined;
        for (const w of g.watchers) {
          if (w.nextRev > rev) continue;
          w.nextRev = rev + 1;
          if (watchSkip && rev >= 100) {
            watchSkip = false; // TETCD_SABOTAGE=watch-skip (pkg/sabotage.ts): this watcher loses `rev`
            continue;
          }
          if (d === undefined) {
            if (g.spec.prevKv) prevs ??= new Map();
            d = { events: prevs && g.spec.prevKv ? this.withPrev(evs, prevs) : evs, revision: rev };
          }
          if (w.opts.send(d)) counts.mvccEvents += d.events.length;
          else this.demote(w, rev + 1);
        }
      }
    } finally {
      this.passRev = outer;
    }
  }

  /** Copies of `evs` with prev_kv, each looked up once per pass however many groups want it. */
  private withPrev(evs: WatchEvent[], done: Map<WatchEvent, WatchEvent>): WatchEvent[] {
    return evs.map((e) => {
      let c = done.get(e);
      if (c === undefined) {
        c = { ...e, prevKv: e.prevKv ?? this.src.prevKv(e.kv.key, e.kv.modRevision) };
        done.set(e, c);
      }
      return c;
    });
  }

  private join(w: Watcher): void {
    w.synced = true;
    w.group = this.synced.add(w, w.opts, w.specId);
  }

  private leave(w: Watcher): void {
    w.synced = false;
    if (w.group) this.synced.delete(w, w.group);
    w.group = undefined;
  }

  /** A congested watcher leaves the synced set; it catches up from `nextRev` once it drains. */
  private demote(w: Watcher, nextRev: number): void {
    this.leave(w);
    w.nextRev = nextRev;
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
   * set is not enough: during a notify pass the watchers not visited yet still lack the newest revision
   * (only those of groups the pass has events for; the others need nothing from it).
   */
  allSynced(ws: Iterable<Watcher>): boolean {
    const rev = this.passRev;
    for (const w of ws) {
      if (!w.synced) return false;
      if (rev !== 0 && w.group?.touchedRev === rev && w.nextRev <= rev) return false;
    }
    return true;
  }

  /** Starts (at most one) catch-up pass. */
  scheduleCatchUp(): void {
    if (this.catchingUp || this.closed) return;
    this.catchingUp = true;
    setImmediate(() => {
      this.catchUp()
        .catch((err: unknown) => {
          if (!this.closed) this.onError(err);
        })
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
    const events = from <= to ? (this.recent.range(from, to) ?? (await this.src.history(from, to))) : [];
    // Watchers of one range and filters share the filtering (and prev_kv lookups); those that also
    // start at the same revision share the delivery.
    const bySpec = new Map<string, WatchEvent[]>();
    const byStart = new Map<string, WatchDelivery>();
    const prevs = new Map<WatchEvent, WatchEvent>();
    for (const w of live) {
      if (w.closed) continue;
      let evs = bySpec.get(w.specId);
      if (evs === undefined) {
        evs = w.filter(events);
        if (w.opts.prevKv) evs = this.withPrev(evs, prevs);
        bySpec.set(w.specId, evs);
      }
      const skip = firstFrom(evs, w.nextRev);
      const startKey = `${skip}@${w.specId}`;
      let d = byStart.get(startKey);
      if (d === undefined) {
        d = { events: skip === 0 ? evs : evs.slice(skip), revision: to };
        byStart.set(startKey, d);
      }
      let ok = true;
      if (d.events.length > 0) ok = w.opts.send(d);
      if (ok) counts.mvccEvents += d.events.length;
      // A watcher already past this batch (it shares the pass with slower ones) must not go back.
      w.nextRev = Math.max(w.nextRev, to + 1);
      if (!ok) {
        this.congested.add(w);
        continue;
      }
      // Caught up with everything written meanwhile too? Then it joins the synced set.
      if (w.nextRev > this.src.rev()) {
        this.unsynced.delete(w);
        this.join(w);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.synced.clear();
    this.unsynced.clear();
    this.recent.clear();
  }
}
