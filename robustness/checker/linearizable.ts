// Linearizability of a KV history: Wing & Gong's search with Lowe's memoization (as porcupine does it),
// one key at a time (every request touches one key, so the history splits by key and each part is
// checked alone). The model is one key of etcd's store: its value, its mod revision, and the highest
// revision a request on it has shown (writes take a higher revision; a read's header revision never
// goes down). A request that failed or timed out may or may not have happened: its return is at
// infinity, so the search may place its effect anywhere after its call, or after everything (unseen).
// The search is bounded: past `maxSteps` the answer is 'unknown', never a hang.
import { formatOp, type KvSeen, type Operation, type Violation, type WatcherLog } from '../history.ts';

/** One key's state: `v` null when absent; `mod` -1 when a write of unknown revision made it. */
export interface KeyState {
  v: string | null;
  mod: number;
  /** The highest revision seen on this key so far (a write's, or a read's header). */
  last: number;
}

export const INITIAL: KeyState = { v: null, mod: 0, last: 0 };

function readMatches(s: KeyState, kv: KvSeen | null, rev: number): KeyState | undefined {
  if (rev < s.last) return undefined;
  if (kv === null) return s.v === null ? { ...s, last: rev } : undefined;
  if (s.v !== kv.value || (s.mod !== -1 && s.mod !== kv.modRev)) return undefined;
  return { v: s.v, mod: kv.modRev, last: Math.max(rev, kv.modRev) };
}

/** What the compare of a txn can be in state `s`: [may be true, may be false]. */
function compareMay(s: KeyState, cmp: Operation['req'] & { kind: 'txn' }): [boolean, boolean] {
  const c = cmp.cmp;
  if (c.target === 'value') {
    const t = s.v !== null && s.v === c.value;
    return [t, !t];
  }
  if (s.v !== null && s.mod === -1) return [true, true];
  const t = (s.v === null ? 0 : s.mod) === c.rev;
  return [t, !t];
}

/** Every state the key can be in after `o` in state `s` (none: `o` cannot happen here). */
export function step(s: KeyState, o: Operation): KeyState[] {
  const q = o.req;
  const r = o.resp;
  switch (q.kind) {
    case 'put':
      if (!r) return [{ v: q.value, mod: -1, last: s.last }];
      if (r.kind !== 'put' || r.rev <= s.last) return [];
      return [{ v: q.value, mod: r.rev, last: r.rev }];
    case 'get': {
      if (!r) return [s];
      if (r.kind !== 'get') return [];
      const n = readMatches(s, r.kv, r.rev);
      return n ? [n] : [];
    }
    case 'delete':
      if (!r) return [s.v === null ? s : { v: null, mod: 0, last: s.last }];
      if (r.kind !== 'delete') return [];
      if (r.deleted === 0) return s.v === null && r.rev >= s.last ? [{ ...s, last: r.rev }] : [];
      return s.v !== null && r.rev > s.last ? [{ v: null, mod: 0, last: r.rev }] : [];
    case 'txn': {
      const [mayT, mayF] = compareMay(s, q);
      if (!r) {
        const out: KeyState[] = [];
        if (mayT) out.push({ v: q.value, mod: -1, last: s.last });
        if (mayF) out.push(s);
        return out;
      }
      if (r.kind !== 'txn') return [];
      if (r.succeeded) return mayT && r.rev > s.last ? [{ v: q.value, mod: r.rev, last: r.rev }] : [];
      if (!mayF) return [];
      const n = readMatches(s, r.kv, r.rev);
      return n ? [n] : [];
    }
  }
}

const stateKey = (s: KeyState) => `${s.v === null ? '\u0000' : s.v}|${s.mod}|${s.last}`;

interface Entry {
  op: number;
  time: number;
  isCall: boolean;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

function lift(e: Entry): void {
  e.prev!.next = e.next;
  if (e.next) e.next.prev = e.prev;
  const m = e.match!;
  m.prev!.next = m.next;
  if (m.next) m.next.prev = m.prev;
}

function unlift(e: Entry): void {
  const m = e.match!;
  m.prev!.next = m;
  if (m.next) m.next.prev = m;
  e.prev!.next = e;
  if (e.next) e.next.prev = e;
}

export type KeyResult =
  | { result: 'ok' }
  | { result: 'unknown'; steps: number }
  /** `blocking`: the operation no order could place; `prefix`: the longest linearizable order found. */
  | { result: 'illegal'; blocking: Operation; prefix: Operation[] };

/** Checks the operations of one key (any order). */
export function checkKey(ops: Operation[], maxSteps = 2_000_000): KeyResult {
  const n = ops.length;
  if (n === 0) return { result: 'ok' };
  const events: Entry[] = [];
  ops.forEach((o, i) => {
    const c: Entry = {
      op: i,
      time: o.call,
      isCall: true,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    const r: Entry = {
      op: i,
      time: o.ret,
      isCall: false,
      match: undefined,
      prev: undefined,
      next: undefined,
    };
    c.match = r;
    events.push(c, r);
  });
  // At equal times calls come first: the two operations then count as concurrent (never a false alarm).
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Entry = {
    op: -1,
    time: -Infinity,
    isCall: false,
    match: undefined,
    prev: undefined,
    next: undefined,
  };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const words = new Uint32Array(Math.ceil(n / 32));
  const seen = new Set<string>();
  const stack: { entry: Entry; state: KeyState; alternatives: KeyState[] }[] = [];
  let state = INITIAL;
  let entry = head.next;
  let steps = 0;
  let best: { depth: number; blocking: number; prefix: number[] } = { depth: -1, blocking: 0, prefix: [] };
  const flip = (i: number) => (words[i >>> 5]! ^= 1 << (i & 31));
  const memoKey = (s: KeyState) => `${words.join(',')}#${stateKey(s)}`;
  /** Tries the next untried state of the top frame; true when the search moved forward. */
  const advance = (): boolean => {
    const top = stack[stack.length - 1]!;
    while (top.alternatives.length > 0) {
      const next = top.alternatives.shift()!;
      const k = memoKey(next);
      if (seen.has(k)) continue;
      seen.add(k);
      state = next;
      entry = head.next;
      return true;
    }
    return false;
  };
  while (head.next) {
    if (++steps > maxSteps) return { result: 'unknown', steps };
    const e = entry!;
    if (e.isCall) {
      const nexts = step(state, ops[e.op]!);
      if (nexts.length > 0) {
        flip(e.op);
        lift(e);
        stack.push({ entry: e, state, alternatives: nexts });
        if (advance()) continue;
        stack.pop();
        unlift(e);
        flip(e.op);
      }
      entry = e.next;
      continue;
    }
    // A return whose operation cannot be placed yet: undo the last choice.
    if (stack.length > best.depth)
      best = { depth: stack.length, blocking: e.op, prefix: stack.map((f) => f.entry.op) };
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) {
        return {
          result: 'illegal',
          blocking: ops[best.blocking]!,
          prefix: best.prefix.map((i) => ops[i]!),
        };
      }
      state = top.state;
      if (advance()) break;
      stack.pop();
      unlift(top.entry);
      flip(top.entry.op);
      state = top.state;
      entry = top.entry.next;
      break;
    }
  }
  return { result: 'ok' };
}

/**
 * Uses what the watchers saw to settle writes that failed or timed out: a write whose unique value an
 * event shows happened at that event's revision; one no watcher saw, while every watcher that started
 * before the first request saw every revision up to the end, did not happen (a txn of that kind had no effect either way) and is left out.
 */
export function settleUnknown(
  ops: Operation[],
  watchers: WatcherLog[],
  finalRev: number,
  /** The revision before the first request (the watchers must have started above it). */
  fromRev = 0,
): Operation[] {
  const byValue = new Map<string, number>();
  for (const w of watchers)
    for (const ev of w.events) if (ev.type === 'PUT') byValue.set(`${ev.key}\u0000${ev.value}`, ev.rev);
  const full = watchers.filter((w) => w.startRev <= fromRev + 1);
  const complete = full.length > 0 && full.every((w) => w.upTo >= finalRev);
  const out: Operation[] = [];
  for (const o of ops) {
    const q = o.req;
    if (o.resp || q.kind === 'delete') {
      out.push(o);
      continue;
    }
    if (q.kind === 'get') continue; // a read that failed changed nothing
    const rev = byValue.get(`${q.key}\u0000${q.value}`);
    if (rev !== undefined) {
      const resp =
        q.kind === 'put'
          ? { kind: 'put' as const, rev }
          : { kind: 'txn' as const, succeeded: true, rev, kv: null };
      out.push({ ...o, resp });
    } else if (!complete) out.push(o);
  }
  return out;
}

export interface LinResult {
  violations: Violation[];
  /** Keys whose search hit the bound. */
  unknownKeys: string[];
}

/** Checks every key of the history; one violation per key that is not linearizable. */
export function checkLinearizable(ops: Operation[], maxSteps?: number): LinResult {
  const byKey = new Map<string, Operation[]>();
  for (const o of ops) {
    if (!o.resp && o.req.kind === 'get') continue;
    const l = byKey.get(o.req.key) ?? [];
    l.push(o);
    byKey.set(o.req.key, l);
  }
  const violations: Violation[] = [];
  const unknownKeys: string[] = [];
  for (const [key, kops] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const r = checkKey(kops, maxSteps);
    if (r.result === 'unknown') unknownKeys.push(key);
    if (r.result !== 'illegal') continue;
    const b = r.blocking;
    // The end of the longest order found, then what was running around the operation it could not place.
    const tail = r.prefix.slice(-4);
    const around = kops.filter((o) => o !== b && !r.prefix.includes(o) && o.call <= b.ret && o.ret >= b.call);
    const excerpt = [...tail, ...around.slice(0, 6), b]
      .filter((o, i, a) => a.indexOf(o) === i)
      .sort((x, y) => x.call - y.call)
      .map((o) => (o === b ? `${formatOp(o)}   <- cannot be placed` : formatOp(o)));
    violations.push({
      checker: 'linearizability',
      what: `key ${key}: no linearization (after ${r.prefix.length} of ${kops.length} operations)`,
      excerpt,
    });
  }
  return { violations, unknownKeys };
}
