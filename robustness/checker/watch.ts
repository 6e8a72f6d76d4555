// The watch guarantees, per watcher that watched the whole key prefix from `startRev`: events come in
// revision order, no revision twice, no acknowledged write missing up to what the watcher has seen
// (`upTo`), each event the write made at that revision (key, PUT or DELETE, value), no event that no
// request could have made; and any two watchers show the same events for the revisions both saw.
import {
  formatOp,
  type KvSeen,
  type Operation,
  type Violation,
  type WatchEvent,
  type WatcherLog,
} from '../history.ts';

const fmtEv = (w: string, e: WatchEvent) =>
  `${w}: ${e.type} ${e.key}${e.type === 'PUT' ? ` = ${e.value}` : ''} @ rev ${e.rev}`;

/** What an acknowledged write did at its revision, or undefined for reads and failed compares. */
function writeOf(o: Operation): { rev: number; type: 'PUT' | 'DELETE'; value: string } | undefined {
  const r = o.resp;
  const q = o.req;
  if (!r) return undefined;
  if (q.kind === 'put' && r.kind === 'put') return { rev: r.rev, type: 'PUT', value: q.value };
  if (q.kind === 'txn' && r.kind === 'txn' && r.succeeded) return { rev: r.rev, type: 'PUT', value: q.value };
  if (q.kind === 'delete' && r.kind === 'delete' && r.deleted > 0)
    return { rev: r.rev, type: 'DELETE', value: '' };
  return undefined;
}

export function checkWatchers(ops: Operation[], watchers: WatcherLog[]): Violation[] {
  const out: Violation[] = [];
  const known = new Map<number, Operation>();
  const mayPut = new Set<string>();
  const mayDelete = new Set<string>();
  for (const o of ops) {
    const w = writeOf(o);
    if (w) known.set(w.rev, o);
    if (!o.resp && (o.req.kind === 'put' || o.req.kind === 'txn'))
      mayPut.add(`${o.req.key}\u0000${o.req.value}`);
    if (!o.resp && o.req.kind === 'delete') mayDelete.add(o.req.key);
  }
  for (const w of watchers) {
    const at = new Map<number, WatchEvent>();
    let prev: WatchEvent | undefined;
    for (const e of w.events) {
      if (prev && e.rev < prev.rev) {
        out.push({
          checker: 'watch',
          what: `${w.name}: event out of order`,
          excerpt: [fmtEv(w.name, prev), fmtEv(w.name, e)],
        });
      } else if (prev && e.rev === prev.rev && e.key === prev.key) {
        out.push({
          checker: 'watch',
          what: `${w.name}: the same event twice`,
          excerpt: [fmtEv(w.name, prev), fmtEv(w.name, e)],
        });
      }
      if (e.rev < w.startRev)
        out.push({
          checker: 'watch',
          what: `${w.name}: event below the start revision ${w.startRev}`,
          excerpt: [fmtEv(w.name, e)],
        });
      prev = e;
      at.set(e.rev, e);
      const o = known.get(e.rev);
      const kw = o && writeOf(o);
      if (o && kw) {
        if (o.req.key !== e.key || kw.type !== e.type || (e.type === 'PUT' && kw.value !== e.value))
          out.push({
            checker: 'watch',
            what: `${w.name}: the event at rev ${e.rev} is not the write acknowledged at that revision`,
            excerpt: [formatOp(o), fmtEv(w.name, e)],
          });
      } else if (e.type === 'PUT' ? !mayPut.has(`${e.key}\u0000${e.value}`) : !mayDelete.has(e.key)) {
        out.push({
          checker: 'watch',
          what: `${w.name}: an event no request made`,
          excerpt: [fmtEv(w.name, e)],
        });
      }
    }
    for (const [rev, o] of [...known].sort((a, b) => a[0] - b[0])) {
      if (rev < w.startRev || rev > w.upTo || at.has(rev)) continue;
      const before = w.events.filter((e) => e.rev < rev).at(-1);
      const after = w.events.find((e) => e.rev > rev);
      out.push({
        checker: 'watch',
        what: `${w.name}: missed the acknowledged write at rev ${rev} (saw up to rev ${w.upTo})`,
        excerpt: [
          ...(before ? [fmtEv(w.name, before)] : []),
          `${formatOp(o)}   <- no event`,
          ...(after ? [fmtEv(w.name, after)] : []),
        ],
      });
      break; // the first gap of a watcher is enough to show it
    }
  }
  // prev_kv: what the key held before the event, by the events all watchers saw (the prefix is empty
  // before the first watcher's start revision).
  const byRev = new Map<number, WatchEvent>();
  for (const w of watchers) for (const e of w.events) if (!byRev.has(e.rev)) byRev.set(e.rev, e);
  const before = new Map<number, KvSeen | null>();
  const held = new Map<string, KvSeen | null>();
  for (const rev of [...byRev.keys()].sort((a, b) => a - b)) {
    const e = byRev.get(rev)!;
    before.set(rev, held.get(e.key) ?? null);
    held.set(e.key, e.type === 'PUT' ? { value: e.value, modRev: rev } : null);
  }
  const kvText = (k: KvSeen | null | undefined) => (k ? `${k.value}@${k.modRev}` : 'absent');
  for (const w of watchers) {
    const bad = w.events.find((e) => {
      if (e.prev === undefined) return false;
      const want = before.get(e.rev) ?? null;
      return kvText(want) !== kvText(e.prev);
    });
    if (bad)
      out.push({
        checker: 'watch',
        what: `${w.name}: prev_kv of the event at rev ${bad.rev} is ${kvText(bad.prev)}, the key held ${kvText(before.get(bad.rev))}`,
        excerpt: [fmtEv(w.name, bad)],
      });
  }
  // Two watchers agree on every revision both have seen.
  for (let i = 1; i < watchers.length; i++) {
    const a = watchers[0]!;
    const b = watchers[i]!;
    const lo = Math.max(a.startRev, b.startRev);
    const hi = Math.min(a.upTo, b.upTo);
    const ea = a.events.filter((e) => e.rev >= lo && e.rev <= hi);
    const eb = b.events.filter((e) => e.rev >= lo && e.rev <= hi);
    const n = Math.max(ea.length, eb.length);
    for (let j = 0; j < n; j++) {
      const x = ea[j];
      const y = eb[j];
      if (x && y && x.rev === y.rev && x.key === y.key && x.type === y.type && x.value === y.value) continue;
      out.push({
        checker: 'watch',
        what: `${a.name} and ${b.name} disagree between rev ${lo} and ${hi}`,
        excerpt: [x ? fmtEv(a.name, x) : `${a.name}: no event`, y ? fmtEv(b.name, y) : `${b.name}: no event`],
      });
      break;
    }
  }
  return out;
}
