// Safety checker for the simulator. It is told what every node logs, persists, commits and applies, and
// records a violation the moment a Raft safety property breaks. It knows nothing of the raft core, so it
// can be tested on hand-made histories.
//
// Logs are tracked as chains of prefix hashes: the hash at index i covers every entry up to i, so "two
// logs with an entry of the same index and term are identical up to it" is one map lookup per entry.
import { NONE, type Entry, type HardState, type NodeId } from '../raftpb.ts';

const TERM_BITS = 2 ** 24;
const LO = 2 ** 21;

/** Hash of one entry's content (type and payload). */
export function contentHash(e: Pick<Entry, 'type' | 'data'>): number {
  let h = Math.imul(e.type + 1, 0x9e3779b1) ^ e.data.length;
  for (let i = 0; i < e.data.length; i++) h = Math.imul(h ^ e.data[i]!, 0x01000193);
  return fmix(h) >>> 0;
}

/** The prefix hash at an entry, from the prefix hash before it (53 bits, kept as a number). */
export function chainHash(prev: number, term: number, content: number): number {
  const hi = Math.floor(prev / LO) | 0;
  const lo = (prev % LO) | 0;
  const a = fmix(hi ^ Math.imul(term, 0x85ebca6b) ^ fmix(content ^ lo)) >>> 0;
  const b = fmix(Math.imul(lo + 0x6b43a9b5, 0xc2b2ae35) ^ hi ^ Math.imul(content, 0x27d4eb2f) ^ term) >>> 0;
  return a * LO + (b >>> 11);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function key(index: number, term: number): number {
  return index * TERM_BITS + term;
}

/** What the checker remembers of one node's log, hard state and state machine. */
interface NodeView {
  /** Index of hashes[0] (the snapshot / compaction point). */
  base: number;
  hashes: number[];
  terms: number[];
  hs: HardState;
  /** The commit index as of the last fsync: a restart must come back with at least this. */
  durableCommit: number;
  durableTerm: number;
  applied: number;
}

export class Checker {
  readonly violations: string[] = [];
  private readonly nodes = new Map<NodeId, NodeView>();
  /** (index, term) -> prefix hash, for every entry any node ever had in its log. */
  private readonly prefix = new Map<number, number>();
  /** term -> the one node that was leader in it. */
  private readonly leaders = new Map<number, NodeId>();
  /** "voter/term" -> candidate it granted its vote to. */
  private readonly votes = new Map<string, NodeId>();
  /** The highest commit index any node reported, and the committed log's prefix hashes. */
  private commit = 0;
  private readonly committedHash: (number | undefined)[] = [];
  /** index -> (term, content) applied there by the first node that applied it. */
  private readonly appliedAt: (number | undefined)[] = [];

  constructor(bootstrapIndex = 0, bootstrapTerm = 0) {
    // The initial snapshot every founding member starts from counts as committed.
    this.prefix.set(key(0, 0), 0); // a new node's empty log
    this.prefix.set(key(bootstrapIndex, bootstrapTerm), 0);
    this.commit = bootstrapIndex;
    this.committedHash[bootstrapIndex] = 0;
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  private fail(msg: string): void {
    this.violations.push(msg);
  }

  private view(id: NodeId): NodeView {
    let v = this.nodes.get(id);
    if (v === undefined) {
      v = {
        base: 0,
        hashes: [0],
        terms: [0],
        hs: { term: 0, vote: NONE, commit: 0 },
        durableCommit: 0,
        durableTerm: 0,
        applied: 0,
      };
      this.nodes.set(id, v);
    }
    return v;
  }

  lastIndex(id: NodeId): number {
    const v = this.view(id);
    return v.base + v.hashes.length - 1;
  }

  /** The node's log was replaced by a snapshot at (index, term). */
  resetLog(id: NodeId, index: number, term: number): void {
    const v = this.view(id);
    const h = this.prefix.get(key(index, term));
    if (h === undefined) {
      this.fail(`node ${id}: snapshot at ${term}/${index} names an entry no log ever held`);
      return;
    }
    v.base = index;
    v.hashes = [h];
    v.terms = [term];
  }

  /** The node appended entries to its log (replacing any overlapping suffix). */
  appendLog(id: NodeId, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const v = this.view(id);
    const last = v.base + v.hashes.length - 1;
    let from = 0;
    while (from < entries.length && entries[from]!.index <= v.base) from++; // already compacted
    if (from === entries.length) return;
    const first = entries[from]!.index;
    if (first > last + 1) {
      this.fail(`node ${id}: append at ${first} leaves a gap after last index ${last}`);
      return;
    }
    v.hashes.length = first - v.base;
    v.terms.length = first - v.base;
    for (let k = from; k < entries.length; k++) {
      const e = entries[k]!;
      const at = e.index - v.base;
      if (at !== v.hashes.length) {
        this.fail(`node ${id}: appended entries are not contiguous at ${e.index}`);
        return;
      }
      const prevTerm = v.terms[at - 1]!;
      if (e.term < prevTerm) {
        this.fail(`node ${id}: log term goes down at ${e.index} (${prevTerm} -> ${e.term})`);
        return;
      }
      if (e.term >= TERM_BITS) {
        this.fail(`node ${id}: term ${e.term} too large for the checker`);
        return;
      }
      const h = chainHash(v.hashes[at - 1]!, e.term, contentHash(e));
      // Below its own commit index a node may only rewrite what is already there (a stale leader may
      // write at indexes others committed, but never below what it knows is committed).
      const committed = e.index <= v.hs.commit ? this.committedHash[e.index] : undefined;
      if (committed !== undefined && committed !== h) {
        this.fail(`node ${id}: wrote ${e.term}/${e.index} over a different committed entry below its commit`);
        return;
      }
      const k2 = key(e.index, e.term);
      const seen = this.prefix.get(k2);
      if (seen === undefined) this.prefix.set(k2, h);
      else if (seen !== h) {
        this.fail(
          `log matching: node ${id} has ${e.term}/${e.index} but its log differs up to it from another log`,
        );
        return;
      }
      v.hashes.push(h);
      v.terms.push(e.term);
    }
  }

  /** The node discarded its log before `index` (its snapshot covers it). */
  compactLog(id: NodeId, index: number): void {
    const v = this.view(id);
    const drop = index - v.base;
    if (drop <= 0 || drop >= v.hashes.length) return;
    v.hashes = v.hashes.slice(drop);
    v.terms = v.terms.slice(drop);
    v.base = index;
  }

  /** A non-empty hard state from a Ready of a live node. */
  hardState(id: NodeId, hs: HardState): void {
    const v = this.view(id);
    const prev = v.hs;
    if (hs.term < prev.term) this.fail(`node ${id}: term went back from ${prev.term} to ${hs.term}`);
    else if (hs.term === prev.term && prev.vote !== NONE && hs.vote !== prev.vote) {
      this.fail(`node ${id}: vote changed within term ${hs.term} from ${prev.vote} to ${hs.vote}`);
    }
    if (hs.commit < prev.commit)
      this.fail(`node ${id}: commit went back from ${prev.commit} to ${hs.commit}`);
    v.hs = { ...hs };
    this.commitTo(id, hs.commit);
  }

  /** The node's current hard state reached disk. */
  synced(id: NodeId): void {
    const v = this.view(id);
    v.durableCommit = Math.max(v.durableCommit, v.hs.commit);
    v.durableTerm = Math.max(v.durableTerm, v.hs.term);
  }

  /** A node restarted from disk; hs is what raft came back with. Its log is re-registered after this. */
  restarted(id: NodeId, hs: HardState, applied: number): void {
    const v = this.view(id);
    if (hs.commit < v.durableCommit) {
      this.fail(`node ${id}: restarted with commit ${hs.commit} below its durable commit ${v.durableCommit}`);
    }
    if (hs.term < v.durableTerm) {
      this.fail(`node ${id}: restarted with term ${hs.term} below its durable term ${v.durableTerm}`);
    }
    if (applied > hs.commit)
      this.fail(`node ${id}: restarted with applied ${applied} above commit ${hs.commit}`);
    v.hs = { ...hs };
    v.applied = applied;
  }

  private commitTo(id: NodeId, c: number): void {
    const v = this.view(id);
    const last = v.base + v.hashes.length - 1;
    if (c > last) {
      this.fail(`node ${id}: commit ${c} beyond its last index ${last}`);
      return;
    }
    if (c <= v.base) return; // covered by its snapshot
    const h = v.hashes[c - v.base]!;
    const known = this.committedHash[c];
    if (known !== undefined && known !== h) {
      this.fail(`committed logs differ: node ${id} committed a different entry chain at ${c}`);
      return;
    }
    if (c > this.commit) {
      for (let i = Math.max(this.commit + 1, v.base); i <= c; i++) {
        const k = this.committedHash[i];
        const mine = v.hashes[i - v.base]!;
        if (k !== undefined && k !== mine) {
          this.fail(`committed logs differ: node ${id} disagrees at ${i}`);
          return;
        }
        this.committedHash[i] = mine;
      }
      this.commit = c;
    } else if (known === undefined) this.committedHash[c] = h;
  }

  /** A node granted its (real, not pre-) vote to a candidate for a term. */
  voteGranted(voter: NodeId, candidate: NodeId, term: number): void {
    const k = `${voter}/${term}`;
    const prev = this.votes.get(k);
    if (prev === undefined) this.votes.set(k, candidate);
    else if (prev !== candidate) {
      this.fail(`node ${voter} voted for both ${prev} and ${candidate} in term ${term}`);
    }
  }

  /** A node became leader at a term: election safety and leader completeness. */
  becameLeader(id: NodeId, term: number): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== id) {
      this.fail(`election safety: nodes ${other} and ${id} both leader in term ${term}`);
      return;
    }
    this.leaders.set(term, id);
    const v = this.view(id);
    const last = v.base + v.hashes.length - 1;
    if (this.commit > last) {
      this.fail(
        `leader completeness: leader ${id} of term ${term} lacks committed index ${this.commit} (last ${last})`,
      );
      return;
    }
    if (this.commit >= v.base) {
      const want = this.committedHash[this.commit];
      if (want !== undefined && want !== v.hashes[this.commit - v.base]) {
        this.fail(
          `leader completeness: leader ${id} of term ${term} has a different committed prefix at ${this.commit}`,
        );
      }
    }
  }

  /** The node's state machine applied an entry. */
  applied(id: NodeId, e: Entry): void {
    const v = this.view(id);
    if (e.index !== v.applied + 1) {
      this.fail(`node ${id}: applied ${e.index} after ${v.applied} (not contiguous)`);
      return;
    }
    if (e.index > v.hs.commit) this.fail(`node ${id}: applied ${e.index} above its commit ${v.hs.commit}`);
    v.applied = e.index;
    this.appliedRecord(id, e.index, e.term, contentHash(e));
    if (e.index > v.base && e.index - v.base < v.hashes.length) {
      const h = chainHash(v.hashes[e.index - 1 - v.base]!, e.term, contentHash(e));
      if (h !== v.hashes[e.index - v.base])
        this.fail(`node ${id}: applied ${e.term}/${e.index} is not its log's entry`);
    }
  }

  /** A record of a state machine (applied directly or restored from a snapshot). */
  appliedRecord(id: NodeId, index: number, term: number, content: number): void {
    const k = term * 2 ** 32 + content;
    const known = this.appliedAt[index];
    if (known === undefined) this.appliedAt[index] = k;
    else if (known !== k) this.fail(`state machine safety: node ${id} applied a different entry at ${index}`);
  }

  /** The node's state machine was replaced by a snapshot's, now at `index`. */
  restoredState(id: NodeId, index: number): void {
    const v = this.view(id);
    if (index < v.applied)
      this.fail(`node ${id}: snapshot at ${index} moves its state back from ${v.applied}`);
    v.applied = index;
  }

  appliedIndex(id: NodeId): number {
    return this.view(id).applied;
  }

  globalCommit(): number {
    return this.commit;
  }
}
