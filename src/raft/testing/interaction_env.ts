// A test-only harness holding N RawNodes over MemoryStorage, driven step by step by scenario scripts
// (see interaction_handlers.ts for the commands and src/raft/testdata/*.txt for the scripts).
// Everything it prints uses the stable text forms of describe.ts, so a script reads like a trace.
//
// The driver follows the classic (synchronous) Ready contract: persist snapshot, entries and hard
// state, apply committed entries, queue the messages, then advance().

import { RawNode } from '../rawnode.ts';
import { MemoryStorage, type Storage } from '../storage.ts';
import type { Config, RaftLogger } from '../raft.ts';
import { describeConfState, describeEntry, describeMessage, describeReady } from '../describe.ts';
import {
  EntryType,
  emptyConfState,
  isEmptyHardState,
  isEmptySnap,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Snapshot,
} from '../raftpb.ts';
import { unmarshalConfChange } from '../raftpb_codec.ts';

export enum LogLevel {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
  None = 4,
}

export const STATE_NAMES = ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'];

/** A Rand whose draws the script controls: intn(n) returns `value % n` (0 unless set-rand changed it). */
export class ScriptedRand {
  value = 0;
  intn(n: number): number {
    return n <= 0 ? 0 : this.value % n;
  }
}

/** MemoryStorage that serves the node's latest applied state as its snapshot, like a real server would. */
class EnvStorage implements Storage {
  constructor(
    readonly mem: MemoryStorage,
    private readonly latest: () => Snapshot,
  ) {}
  initialState(): ReturnType<Storage['initialState']> {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.mem.entries(lo, hi, maxSize);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  snapshot(): Snapshot {
    return this.latest();
  }
}

export interface EnvNode {
  id: NodeId;
  rawNode: RawNode;
  storage: MemoryStorage;
  config: Config;
  rand: ScriptedRand;
  /** Applied states of the "appender" state machine (data = concatenated payloads), newest last. */
  history: Snapshot[];
}

export class InteractionEnv {
  readonly nodes: EnvNode[] = [];
  /** Messages sent and not yet delivered or dropped, in send order. */
  messages: Message[] = [];
  /** Nodes cut off from everyone: messages from or to them are dropped when delivered. */
  readonly isolated = new Set<NodeId>();
  level: LogLevel = LogLevel.None;
  private out: string[] = [];
  private indent = '';

  // ---- output ----

  write(text: string): void {
    for (const line of text.replace(/\n$/, '').split('\n')) this.out.push(this.indent + line + '\n');
  }

  takeOutput(): string {
    const s = this.out.join('');
    this.out = [];
    return s;
  }

  withIndent(f: () => void): void {
    const old = this.indent;
    this.indent += '  ';
    try {
      f();
    } finally {
      this.indent = old;
    }
  }

  logger(): RaftLogger {
    const at =
      (lvl: LogLevel, name: string) =>
      (msg: string): void => {
        if (lvl >= this.level) this.write(`${name} ${msg}`);
      };
    return {
      debug: at(LogLevel.Debug, 'DEBUG'),
      info: at(LogLevel.Info, 'INFO'),
      warn: at(LogLevel.Warn, 'WARN'),
      error: at(LogLevel.Error, 'ERROR'),
    };
  }

  node(id: NodeId | number): EnvNode {
    const n = this.nodes[Number(id) - 1];
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  // ---- nodes ----

  /**
   * Adds n nodes with consecutive IDs. If `snap` has an index, each node starts from it (term 1), which
   * bootstraps the configuration; otherwise the node starts empty and learns everything from a leader.
   */
  addNodes(n: number, template: Omit<Config, 'id' | 'storage' | 'rand'>, snap: Snapshot): void {
    for (let i = 0; i < n; i++) {
      const id = BigInt(this.nodes.length + 1);
      const mem = new MemoryStorage();
      const history: Snapshot[] = [snap];
      if (!isEmptySnap(snap)) {
        if (snap.metadata.index <= 1) throw new Error('index must be > 1 to bootstrap');
        mem.applySnapshot(snap);
      }
      const storage = new EnvStorage(mem, () => history[history.length - 1] ?? snap);
      const rand = new ScriptedRand();
      const config: Config = {
        ...template,
        id,
        storage,
        rand,
        logger: this.logger(),
        applied: snap.metadata.index,
      };
      const rawNode = new RawNode(config);
      this.nodes.push({ id, rawNode, storage: mem, config, rand, history });
    }
  }

  /**
   * Crashes and restarts a node: a new RawNode over the same storage (what was persisted survives,
   * everything else is lost), resuming from its last applied index.
   */
  restartNode(id: NodeId): void {
    const n = this.node(id);
    const applied = n.history[n.history.length - 1]?.metadata.index ?? 0;
    n.config = { ...n.config, applied };
    n.rawNode = new RawNode(n.config);
  }

  // ---- Ready handling ----

  /** Handles one Ready of a node (prints it; says so if there was none). */
  processReady(id: NodeId): void {
    const n = this.node(id);
    if (!n.rawNode.hasReady()) {
      this.write('no Ready');
      return;
    }
    const rd = n.rawNode.ready();
    this.write(describeReady(rd));
    if (!isEmptySnap(rd.snapshot)) {
      n.history.push(rd.snapshot);
      n.storage.applySnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (!isEmptyHardState(rd.hardState)) n.storage.setHardState(rd.hardState);
    this.apply(n, rd.committedEntries);
    this.messages.push(...rd.messages);
    n.rawNode.advance(rd);
  }

  private apply(n: EnvNode, ents: Entry[]): void {
    for (const e of ents) {
      const last = n.history[n.history.length - 1];
      let cs: ConfState = last?.metadata.confState ?? emptyConfState();
      let payload = e.data;
      if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
        const cc = unmarshalConfChange(e.type, e.data);
        payload = cc.context;
        cs = n.rawNode.applyConfChange(cc);
        this.write(`${n.id} applied ${describeEntry(e)}: ${describeConfState(cs)}`);
      }
      const prev = last?.data ?? new Uint8Array(0);
      const data = new Uint8Array(prev.length + payload.length);
      data.set(prev, 0);
      data.set(payload, prev.length);
      n.history.push({ data, metadata: { index: e.index, term: e.term, confState: cs } });
    }
  }

  // ---- message delivery ----

  private blocked(m: Message): boolean {
    return m.from !== m.to && (this.isolated.has(m.from) || this.isolated.has(m.to));
  }

  /**
   * Delivers (or, with drop, discards) the queued messages addressed to `to`, optionally only those of one
   * type. Messages crossing an isolation boundary are dropped. Returns how many were handled.
   */
  deliverMsgs(to: NodeId, drop: boolean, type?: number): number {
    const mine: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.messages) {
      if (m.to === to && (type === undefined || m.type === type)) mine.push(m);
      else rest.push(m);
    }
    this.messages = rest;
    for (const m of mine) {
      if (drop || this.blocked(m)) {
        this.write(`dropped: ${describeMessage(m)}`);
        continue;
      }
      this.write(describeMessage(m));
      this.step(this.node(to), m);
    }
    return mine.length;
  }

  /** Steps a message; errors of the raft API (Err* classes) are printed, anything else is a bug. */
  step(n: EnvNode, m: Message): void {
    this.call(() => n.rawNode.step(m));
  }

  call(f: () => void): void {
    try {
      f();
    } catch (err) {
      if (err instanceof Error && /^Err/.test(err.constructor.name)) this.write(`error: ${err.message}`);
      else throw err;
    }
  }

  /**
   * Alternates Ready handling and message delivery over the given nodes (all if none) until nothing is
   * left to do, printing everything that happens.
   */
  stabilize(ids: NodeId[]): void {
    const nodes = ids.length > 0 ? ids.map((id) => this.node(id)) : this.nodes;
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: no fixed point after 1000 rounds');
      let done = true;
      for (const n of nodes) {
        if (!n.rawNode.hasReady()) continue;
        this.write(`> ${n.id} handling Ready`);
        this.withIndent(() => this.processReady(n.id));
        done = false;
      }
      for (const n of nodes) {
        if (!this.messages.some((m) => m.to === n.id)) continue;
        this.write(`> ${n.id} receiving messages`);
        this.withIndent(() => this.deliverMsgs(n.id, false));
        done = false;
      }
      if (done) return;
    }
  }

  // ---- inspection ----

  raftLog(id: NodeId): string {
    const s = this.node(id).storage;
    const fi = s.firstIndex();
    const li = s.lastIndex();
    if (li < fi) return `log is empty: first index=${fi}, last index=${li}`;
    return s
      .entries(fi, li + 1, Number.MAX_SAFE_INTEGER)
      .map((e) => describeEntry(e))
      .join('\n');
  }
}
