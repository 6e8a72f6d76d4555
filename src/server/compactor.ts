// Auto-compaction (etcd's v3compactor): --auto-compaction-mode periodic|revision with
// --auto-compaction-retention. The compactor runs on every member but acts only while the member leads
// (the server pauses it on followers and resumes it on the leader, as etcd's updateLeadership does);
// its compaction is an ordinary Compact request through the log, the same as the RPC's.
//
// periodic (etcd 3.4's periodic.go): with a period P, every min(P, 1h)/10 it records the current
// revision, keeping the last P/that + 1 of them, so the oldest is the revision of P ago. Once P has
// passed since the last success (the first time), then min(P, 1h), it compacts to that oldest revision.
// A failure is retried at the next recording; "already compacted" counts as success.
// revision (revision.go): every 5 minutes it compacts to (current revision - retention), when that is
// positive and not the revision it compacted to last time.
//
// Time comes from an injected clock, so the tests drive both loops without sleeping.
import type { Logger } from 'pino';
import { ErrCompacted } from '../mvcc/errors.ts';

export type CompactionMode = 'periodic' | 'revision';

const HOUR_MS = 3600_000;
/** The revision compactor's interval (etcd's revInterval). */
export const REVISION_INTERVAL_MS = 5 * 60_000;
const RETRY_DIVISOR = 10;

/** Monotonic time in ms and one-shot timers (cancelled through the returned function). */
export interface CompactorClock {
  now(): number;
  after(ms: number, fn: () => void): () => void;
}

export const realClock: CompactorClock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface CompactorDeps {
  mode: CompactionMode;
  /** From parseCompactionRetention: ms in periodic mode, revisions in revision mode; > 0. */
  retention: number;
  /** The current revision of the KV store (etcd's RevGetter). */
  rev(): number;
  /** A Compact request through the log (physical: false); rejects with the request's error. */
  compact(rev: number): Promise<unknown>;
  log: Logger;
  clock?: CompactorClock;
}

export interface Compactor {
  run(): void;
  /** While paused (this member does not lead) no compaction starts. */
  pause(): void;
  resume(): void;
  close(): void;
}

export function newCompactor(deps: CompactorDeps): Compactor {
  return deps.mode === 'periodic' ? new Periodic(deps) : new Revision(deps);
}

abstract class Loop implements Compactor {
  protected paused = false;
  protected closed = false;
  private cancel: (() => void) | undefined;
  protected readonly clock: CompactorClock;

  constructor(protected readonly deps: CompactorDeps) {
    this.clock = deps.clock ?? realClock;
  }

  abstract run(): void;

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  close(): void {
    this.closed = true;
    this.cancel?.();
    this.cancel = undefined;
  }

  protected wait(ms: number, fn: () => void): void {
    if (this.closed) return;
    this.cancel = this.clock.after(ms, () => {
      this.cancel = undefined;
      if (!this.closed) fn();
    });
  }

  /** Runs one compaction; `done(ok)` is called after it, unless the compactor was closed meanwhile. */
  protected compactTo(rev: number, done: (ok: boolean, err?: unknown) => void): void {
    let p: Promise<unknown>;
    try {
      p = this.deps.compact(rev);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => !this.closed && done(true),
      // As etcd: a revision compacted already (by hand, or by the last round) counts as done.
      (err: unknown) => !this.closed && done(err instanceof ErrCompacted, err),
    );
  }
}

class Periodic extends Loop {
  private readonly period: number;
  private readonly compactInterval: number;
  private readonly retryInterval: number;
  private readonly retentions: number;
  private readonly revs: number[] = [];
  private lastSuccess = 0;
  private baseInterval = 0;

  constructor(deps: CompactorDeps) {
    super(deps);
    this.period = deps.retention;
    this.compactInterval = Math.min(this.period, HOUR_MS);
    // In whole nanoseconds, as Go's Duration arithmetic.
    const periodNs = Math.round(this.period * 1e6);
    const retryNs = Math.floor(Math.round(this.compactInterval * 1e6) / RETRY_DIVISOR);
    this.retryInterval = retryNs / 1e6;
    this.retentions = Math.floor(periodNs / retryNs) + 1;
  }

  run(): void {
    this.lastSuccess = this.clock.now();
    this.baseInterval = this.period;
    this.record();
  }

  private record(): void {
    this.revs.push(this.deps.rev());
    // revs[0] is always the revision of one period ago.
    if (this.revs.length > this.retentions) this.revs.shift();
    this.wait(this.retryInterval, () => this.onTick());
  }

  private onTick(): void {
    if (this.paused || this.clock.now() - this.lastSuccess < this.baseInterval) return this.record();
    // The first compaction waits a whole period; later ones come every min(period, 1h).
    if (this.baseInterval === this.period) this.baseInterval = this.compactInterval;
    const rev = this.revs[0]!;
    const period = goDuration(this.period);
    const { log } = this.deps;
    log.info({ revision: rev, 'compact-period': period }, 'starting auto periodic compaction');
    this.compactTo(rev, (ok, err) => {
      if (ok) {
        const now = this.clock.now();
        // etcd 3.4 reports the time since the previous success as "took".
        const took = goDuration(now - this.lastSuccess);
        log.info({ revision: rev, 'compact-period': period, took }, 'completed auto periodic compaction');
        this.lastSuccess = now;
      } else {
        log.warn(
          {
            revision: rev,
            'compact-period': period,
            'retry-interval': goDuration(this.retryInterval),
            error: errorText(err),
          },
          'failed auto periodic compaction',
        );
      }
      this.record();
    });
  }
}

class Revision extends Loop {
  private prev = 0;

  run(): void {
    this.wait(REVISION_INTERVAL_MS, () => this.onTick());
  }

  private onTick(): void {
    const rev = this.deps.rev() - this.deps.retention;
    if (this.paused || rev <= 0 || rev === this.prev) return this.run();
    const { log } = this.deps;
    const retention = this.deps.retention;
    const start = this.clock.now();
    log.info(
      { revision: rev, 'revision-compaction-retention': retention },
      'starting auto revision compaction',
    );
    this.compactTo(rev, (ok, err) => {
      if (ok) {
        this.prev = rev;
        const took = goDuration(this.clock.now() - start);
        log.info(
          { revision: rev, 'revision-compaction-retention': retention, took },
          'completed auto revision compaction',
        );
      } else {
        log.warn(
          {
            revision: rev,
            'revision-compaction-retention': retention,
            'retry-interval': goDuration(REVISION_INTERVAL_MS),
            error: errorText(err),
          },
          'failed auto revision compaction',
        );
      }
      this.run();
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- --auto-compaction-retention (etcd's embed.parseCompactionRetention) ----

const MODES: readonly string[] = ['periodic', 'revision'];

/** --auto-compaction-mode: etcd's flag check, with its wording. */
export function checkCompactionMode(mode: string): asserts mode is CompactionMode {
  if (!MODES.includes(mode)) throw new Error(`unknown auto-compaction-mode ${JSON.stringify(mode)}`);
}

/**
 * The retention as etcd reads it: a non-negative integer is hours (periodic) or revisions (revision);
 * anything else is a Go duration ("30m", "1h30m", "2.5s"). In revision mode a duration counts its
 * nanoseconds as revisions, as etcd's does. Returns ms (periodic) or revisions (revision); 0 disables.
 * Throws etcd's "error parsing CompactionRetention: ..." for a value etcd refuses, and refuses two that
 * etcd 3.4 takes and then misbehaves on: a negative duration (it compacts in a loop without pause) and
 * a periodic one under 10ns (it panics dividing by zero).
 */
export function parseCompactionRetention(mode: CompactionMode, retention: string): number {
  const raw = retention === '' ? '0' : retention;
  if (/^[+-]?\d+$/.test(raw)) {
    const n = Number(raw);
    if (n >= 0 && Number.isSafeInteger(n)) return mode === 'revision' ? n : n * HOUR_MS;
  }
  const ns = parseGoDuration(raw);
  if (typeof ns === 'string') throw new Error(`error parsing CompactionRetention: ${ns}`);
  if (ns < 0) {
    throw new Error(
      `error parsing CompactionRetention: negative retention ${JSON.stringify(raw)} is not supported`,
    );
  }
  // etcd 3.4 divides by a tenth of the period in whole nanoseconds: under 10ns it panics (divide by zero).
  if (mode === 'periodic' && ns > 0 && ns < 10) {
    throw new Error(
      `error parsing CompactionRetention: a periodic retention under 10ns is not supported ${JSON.stringify(raw)}`,
    );
  }
  return mode === 'revision' ? ns : ns / 1e6;
}

/**
 * The retention as etcd 3.4 logs it at startup ("auto-compaction-retention" and "-interval" of
 * "starting an etcd server": a Go duration, so revisions show as nanoseconds: "10ns"). `value` is
 * parseCompactionRetention's result.
 */
export function retentionText(mode: CompactionMode, value: number): string {
  return goDuration(mode === 'periodic' ? value : value / 1e6);
}

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration: nanoseconds, or Go's error text. */
export function parseGoDuration(orig: string): number | string {
  const invalid = `time: invalid duration ${JSON.stringify(orig)}`;
  let s = orig;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return invalid;
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s)!;
    const [whole, int = '', frac] = m;
    if (int === '' && (frac === undefined || frac === '')) return invalid;
    s = s.slice(whole.length);
    const u = /^[^0-9.]*/.exec(s)![0];
    if (u === '') return `time: missing unit in duration ${JSON.stringify(orig)}`;
    const scale = UNITS[u];
    if (scale === undefined)
      return `time: unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(orig)}`;
    s = s.slice(u.length);
    total += Number(int || '0') * scale + (frac ? Math.trunc(Number(`0.${frac}`) * scale) : 0);
    if (total > 2 ** 63 - 1) return invalid;
  }
  return neg ? -total : total;
}

/** A duration in ms as Go prints a time.Duration ("2s", "10m0s", "1h0m0s", "1.5ms", "2.009422039s"). */
export function goDuration(ms: number): string {
  let ns = BigInt(Math.round(ms * 1e6));
  const sign = ns < 0n ? '-' : '';
  if (ns < 0n) ns = -ns;
  if (ns === 0n) return '0s';
  const frac = (v: bigint, digits: number): string => {
    const d = 10n ** BigInt(digits);
    const f = (v % d).toString().padStart(digits, '0').replace(/0+$/, '');
    return `${v / d}${f ? `.${f}` : ''}`;
  };
  if (ns < 1000n) return `${sign}${ns}ns`;
  if (ns < 1_000_000n) return `${sign}${frac(ns, 3)}µs`;
  if (ns < 1_000_000_000n) return `${sign}${frac(ns, 6)}ms`;
  const h = ns / 3_600_000_000_000n;
  const m = (ns / 60_000_000_000n) % 60n;
  const sec = `${frac(ns % 60_000_000_000n, 9)}s`;
  if (h > 0n) return `${sign}${h}h${m}m${sec}`;
  if (m > 0n) return `${sign}${m}m${sec}`;
  return `${sign}${sec}`;
}
