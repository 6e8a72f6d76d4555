// Test-only: a cluster of RawNodes over MemoryStorage with an in-memory network. Each node is driven by
// the classic Ready contract (persist, send, apply, advance); messages are delivered in FIFO order
// through a filter that tests use to cut links, isolate nodes or drop message types.
import { ErrProposalDropped, ErrStepPeerNotFound } from '../errors.ts';
import type { Config, Rand } from '../raft.ts';
import {
  EntryType,
  emptyConfState,
  isEmptyHardState,
  isEmptySnap,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
} from '../raftpb.ts';
import { decodeConfChange, decodeConfChangeV2 } from '../raftpb_codec.ts';
import { RawNode, type Ready } from '../rawnode.ts';
import { MemoryStorage } from '../storage.ts';
import { StateType } from '../status.ts';

/** A tiny seeded LCG: deterministic election timeouts per node. */
export class SeededRand implements Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  intn(n: number): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return n <= 0 ? 0 : this.s % n;
  }
}

export interface TestNode {
  id: NodeId;
  rn: RawNode;
  storage: MemoryStorage;
  /** Data of applied normal entries (non-empty ones), as text. */
  applied: string[];
  /** Every applied entry, conf changes included. */
  appliedEntries: Entry[];
  confState: ConfState;
  /** ReadStates seen in Readies. */
  readStates: { index: number; ctx: string }[];
}

export type Filter = (m: Message) => boolean;

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface NetworkOptions {
  /** Overrides applied to every node's Config. */
  config?: Partial<Omit<Config, 'id' | 'storage' | 'rand'>>;
  learners?: NodeId[];
  seed?: number;
}

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages in flight, FIFO. */
  queue: Message[] = [];
  /** Messages pass only if every filter returns true. */
  filters: Filter[] = [];
  /** Every message ever delivered (after filtering), for assertions. */
  delivered: Message[] = [];
  private readonly opts: NetworkOptions;

  constructor(voters: NodeId[], opts: NetworkOptions = {}) {
    this.opts = opts;
    const cs: ConfState = { ...emptyConfState(), voters, learners: opts.learners ?? [] };
    for (const id of [...voters, ...(opts.learners ?? [])]) this.addNode(id, cs);
  }

  /** Every node's log (terms of entries after the bootstrap snapshot), for comparing. */
  logTerms(id: NodeId): number[] {
    const r = this.rn(id).raft;
    return r.raftLog.allEntries().map((e) => e.term);
  }

  /** Creates a node whose storage holds a bootstrap snapshot (index 1, term 1) with configuration cs. */
  addNode(id: NodeId, cs: ConfState): TestNode {
    const storage = new MemoryStorage();
    storage.applySnapshot({ data: enc.encode('[]'), metadata: { index: 1, term: 1, confState: cs } });
    storage.setHardState({ term: 1, vote: 0n, commit: 1 });
    return this.addNodeWithStorage(id, storage);
  }

  /** Creates a node over a prepared storage (its initial state decides log, term and configuration). */
  addNodeWithStorage(id: NodeId, storage: MemoryStorage): TestNode {
    const rn = new RawNode({
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 256,
      rand: new SeededRand((this.opts.seed ?? 1) * 7919 + Number(id)),
      ...this.opts.config,
    });
    const confState = storage.initialState().confState;
    const n: TestNode = { id, rn, storage, applied: [], appliedEntries: [], confState, readStates: [] };
    this.nodes.set(id, n);
    return n;
  }

  /**
   * Crash and restart: a new RawNode over the same storage. Unpersisted state is lost; the application
   * state restarts from the storage snapshot and committed entries are applied again.
   */
  restart(id: NodeId): TestNode {
    const old = this.node(id);
    const snap = old.storage.snapshot();
    const n = this.addNodeWithStorage(id, old.storage);
    n.applied = JSON.parse(dec.decode(snap.data)) as string[];
    return n;
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  rn(id: NodeId): RawNode {
    return this.node(id).rn;
  }

  /** Handles one Ready of node id (persist, queue messages, apply, advance). False if it had none. */
  processReady(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.rn.hasReady()) return false;
    const rd: Ready = n.rn.ready();
    if (!isEmptySnap(rd.snapshot)) {
      n.storage.applySnapshot(rd.snapshot);
      n.applied = JSON.parse(dec.decode(rd.snapshot.data)) as string[];
      n.confState = rd.snapshot.metadata.confState;
    }
    n.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) n.storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.queue.push(m);
    for (const rs of rd.readStates) n.readStates.push({ index: rs.index, ctx: dec.decode(rs.requestCtx) });
    for (const e of rd.committedEntries) this.apply(n, e);
    n.rn.advance(rd);
    return true;
  }

  private apply(n: TestNode, e: Entry): void {
    n.appliedEntries.push(e);
    if (e.type === EntryType.EntryNormal) {
      if (e.data.length > 0) n.applied.push(dec.decode(e.data));
    } else if (e.type === EntryType.EntryConfChange) {
      n.confState = n.rn.applyConfChange(decodeConfChange(e.data));
    } else {
      n.confState = n.rn.applyConfChange(decodeConfChangeV2(e.data));
    }
  }

  /** Delivers one queued message; false if the queue is empty. */
  deliverOne(): boolean {
    const m = this.queue.shift();
    if (m === undefined) return false;
    if (!this.filters.every((f) => f(m))) return true;
    const n = this.nodes.get(m.to);
    if (n === undefined) return true;
    this.delivered.push(m);
    try {
      n.rn.step(m);
    } catch (e) {
      if (!(e instanceof ErrProposalDropped) && !(e instanceof ErrStepPeerNotFound)) throw e;
    }
    return true;
  }

  /** Processes Readies and delivers messages until nothing is left (bounded). */
  stabilize(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      let busy = false;
      for (const id of [...this.nodes.keys()]) while (this.processReady(id)) busy = true;
      while (this.deliverOne()) busy = true;
      if (!busy) return;
    }
    throw new Error('network did not stabilize');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.rn(id).tick();
  }

  /** Ticks every node once and stabilizes, `times` times. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.rn.tick();
      this.stabilize();
    }
  }

  campaign(id: NodeId): void {
    this.rn(id).campaign();
    this.stabilize();
  }

  /** Proposes on node id; returns false if the proposal was dropped. */
  propose(id: NodeId, data: string): boolean {
    try {
      this.rn(id).propose(enc.encode(data));
    } catch (e) {
      if (e instanceof ErrProposalDropped) return false;
      throw e;
    }
    this.stabilize();
    return true;
  }

  /** Drops every message to or from id. Returns a function undoing it. */
  isolate(id: NodeId): () => void {
    return this.addFilter((m) => m.to !== id && m.from !== id);
  }

  /** Drops messages between a and b (both directions). */
  cut(a: NodeId, b: NodeId): () => void {
    return this.addFilter((m) => !((m.from === a && m.to === b) || (m.from === b && m.to === a)));
  }

  addFilter(f: Filter): () => void {
    this.filters.push(f);
    return () => {
      this.filters = this.filters.filter((g) => g !== f);
    };
  }

  heal(): void {
    this.filters = [];
  }

  state(id: NodeId): StateType {
    return this.rn(id).basicStatus().softState.raftState;
  }

  /** The ids of nodes that believe they lead. */
  leaders(): NodeId[] {
    return [...this.nodes.values()]
      .filter((n) => this.state(n.id) === StateType.StateLeader)
      .map((n) => n.id);
  }

  term(id: NodeId): number {
    return this.rn(id).basicStatus().hardState.term;
  }

  committed(id: NodeId): number {
    return this.rn(id).basicStatus().hardState.commit;
  }

  /** Snapshots node id's applied state at its applied index and compacts its log up to there. */
  compact(id: NodeId): number {
    const n = this.node(id);
    const index = n.rn.basicStatus().applied;
    n.storage.createSnapshot(index, n.confState, enc.encode(JSON.stringify(n.applied)));
    n.storage.compact(index);
    return index;
  }
}
