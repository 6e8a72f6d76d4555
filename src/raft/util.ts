// Small helpers shared by the log and the state machine.
import { entrySize, payloadSize, type Entry } from './raftpb.ts';

/** Passed as a size limit when there is none. */
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** A broken invariant: a bug, so the member stops rather than continue on corrupt state. */
export function panic(msg: string): never {
  throw new Error(`raft: ${msg}`);
}

/**
 * The longest prefix of `ents` whose total size stays within `maxSize`; never empty if `ents` is not,
 * so a single oversized entry still makes progress.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function entsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += entrySize(e);
  return s;
}

export function payloadsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += payloadSize(e);
  return s;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
