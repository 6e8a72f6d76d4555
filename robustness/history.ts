// What the clients of a robustness run did and saw: one Operation per request (its call and return
// times on one monotonic clock, its result or the error), and what each watcher received. The checkers
// (checker/) read only these types, so they can be tested on hand-written histories.

/** A key's value and mod revision as a Range (or a txn's else-branch Range) returned it. */
export interface KvSeen {
  value: string;
  modRev: number;
}

/** Txn compares: one compare on the key's value, or on its mod revision (0 = the key is absent). */
export type Compare = { target: 'value'; value: string } | { target: 'mod'; rev: number };

/**
 * The requests the KV clients send, each on one key: a txn is `if cmp then put key value else get key`.
 * Values are unique across a run, which lets the checkers tell which write a read or an event shows.
 */
export type Request =
  | { kind: 'put'; key: string; value: string }
  | { kind: 'get'; key: string }
  | { kind: 'delete'; key: string }
  | { kind: 'txn'; key: string; cmp: Compare; value: string };

export type Response =
  | { kind: 'put'; rev: number }
  | { kind: 'get'; kv: KvSeen | null; rev: number }
  | { kind: 'delete'; deleted: number; rev: number }
  | { kind: 'txn'; succeeded: boolean; rev: number; kv: KvSeen | null };

export interface Operation {
  id: number;
  client: number;
  req: Request;
  /** When the request was sent (ms, monotonic). */
  call: number;
  /** When its answer came; Infinity when it failed or timed out (it may take effect at any later time). */
  ret: number;
  /** Undefined when the request failed or timed out: it may or may not have happened. */
  resp?: Response | undefined;
  error?: string | undefined;
}

export interface WatchEvent {
  rev: number;
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  /** prev_kv, for a watcher that asked for it: null when the key had no value before. */
  prev?: KvSeen | null;
}

export interface WatcherLog {
  name: string;
  /** The first revision this watcher asked for (it watched the whole prefix from there). */
  startRev: number;
  /** The watcher saw every revision up to here (its last progress); events above it are not checked for gaps. */
  upTo: number;
  events: WatchEvent[];
}

export interface Violation {
  checker: 'linearizability' | 'watch' | 'hashkv' | 'leadership';
  what: string;
  /** The shortest part of the history that shows it, one line per operation or event. */
  excerpt: string[];
}

/** One line for an operation, for reports. */
export function formatOp(o: Operation): string {
  const r = o.req;
  const req =
    r.kind === 'put'
      ? `put(${r.key}, ${r.value})`
      : r.kind === 'get'
        ? `get(${r.key})`
        : r.kind === 'delete'
          ? `delete(${r.key})`
          : `txn(${r.key}: if ${r.cmp.target === 'value' ? `value == ${r.cmp.value}` : `mod == ${r.cmp.rev}`} then put ${r.value} else get)`;
  const s = o.resp;
  const kv = (k: KvSeen | null) => (k ? `${k.value}@${k.modRev}` : 'absent');
  const resp = !s
    ? `failed (${o.error ?? 'unknown'}): may or may not have happened`
    : s.kind === 'put'
      ? `ok rev ${s.rev}`
      : s.kind === 'get'
        ? `${kv(s.kv)} (header rev ${s.rev})`
        : s.kind === 'delete'
          ? `deleted ${s.deleted} rev ${s.rev}`
          : s.succeeded
            ? `succeeded rev ${s.rev}`
            : `failed compare, ${kv(s.kv)}`;
  const ret = Number.isFinite(o.ret) ? o.ret.toFixed(1) : 'never';
  return `#${o.id} client ${o.client} [${o.call.toFixed(1)} .. ${ret}] ms ${req} -> ${resp}`;
}
