// Linearizable reads without log entries (raft thesis §6.4). With ReadOnlySafe the leader records the
// commit index when a read arrives and answers it once a quorum has acknowledged a heartbeat carrying
// the read's context; a quorum ack for a later read also answers every read queued before it.
import type { Message, NodeId } from './raftpb.ts';
import { panic } from './util.ts';

export enum ReadOnlyOption {
  /** Confirm leadership with a heartbeat quorum per read batch. */
  ReadOnlySafe = 0,
  /** Trust the leader lease (needs checkQuorum; unsafe under unbounded clock drift). */
  ReadOnlyLeaseBased = 1,
}

/** A read the application may serve once it has applied up to `index`. */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

export interface ReadIndexStatus {
  req: Message;
  index: number;
  /** Voters (and learners) that acked a heartbeat with this context; the leader acks itself. */
  acks: Map<NodeId, boolean>;
}

/** A map key for a request context (bytes as a binary string). */
export function ctxKey(ctx: Uint8Array): string {
  let s = '';
  for (const b of ctx) s += String.fromCharCode(b);
  return s;
}

export class ReadOnly {
  readonly option: ReadOnlyOption;
  readonly pendingReadIndex = new Map<string, ReadIndexStatus>();
  /** Contexts in arrival order. */
  readIndexQueue: string[] = [];

  constructor(option: ReadOnlyOption) {
    this.option = option;
  }

  /** Queues read request m (its context is m.entries[0].data), to be answered at commit `index`. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(readCtx(m));
    if (this.pendingReadIndex.has(key)) return;
    this.pendingReadIndex.set(key, { index, req: m, acks: new Map() });
    this.readIndexQueue.push(key);
  }

  /** Records a heartbeat ack from `id` for `context`; returns the acks so far (empty if unknown). */
  recvAck(id: NodeId, context: Uint8Array): Map<NodeId, boolean> {
    const rs = this.pendingReadIndex.get(ctxKey(context));
    if (rs === undefined) return new Map();
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Dequeues and returns every read up to and including the one whose context m carries. */
  advance(m: Message): ReadIndexStatus[] {
    const key = ctxKey(m.context);
    const at = this.readIndexQueue.indexOf(key);
    if (at < 0) return [];
    const done = this.readIndexQueue.slice(0, at + 1);
    this.readIndexQueue = this.readIndexQueue.slice(at + 1);
    return done.map((k) => {
      const rs = this.pendingReadIndex.get(k);
      if (rs === undefined) panic('cannot find corresponding read state from pending map');
      this.pendingReadIndex.delete(k);
      return rs;
    });
  }

  /** Context of the newest pending read, which heartbeats carry so they also confirm it. */
  lastPendingRequestCtx(): Uint8Array | undefined {
    const last = this.readIndexQueue[this.readIndexQueue.length - 1];
    if (last === undefined) return undefined;
    return readCtx(this.pendingReadIndex.get(last)!.req);
  }
}

/** The request context of a MsgReadIndex. */
export function readCtx(m: Message): Uint8Array {
  const e = m.entries[0];
  if (e === undefined) panic('MsgReadIndex without a context entry');
  return e.data;
}
