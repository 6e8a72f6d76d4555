// Stable one-line text forms of raft data, used by scenario scripts (src/raft/testdata) and logs.
// Formats follow etcd-io/raft's Describe* functions closely; changing any of them changes every
// scenario's expected output, so treat them as an interface.
//
// Ready/SoftState/ReadState are described structurally (not imported from rawnode/status) so that
// this module stays a leaf that the core may import for logging without an import cycle.
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Snapshot,
  isEmptyHardState,
  isEmptySnap,
} from './raftpb.ts';
import { unmarshalConfChange } from './raftpb_codec.ts';
import { confChangeAsV2, confChangesToString } from './confchange/conv.ts';

export interface SoftStateLike {
  lead: NodeId;
  raftState: number;
}

export interface ReadStateLike {
  index: number;
  requestCtx: Uint8Array;
}

export interface ReadyLike {
  softState?: SoftStateLike | undefined;
  hardState: HardState;
  readStates: readonly ReadStateLike[];
  entries: readonly Entry[];
  snapshot: Snapshot;
  committedEntries: readonly Entry[];
  messages: readonly Message[];
  mustSync: boolean;
}

const STATE_NAMES = ['StateFollower', 'StateCandidate', 'StateLeader', 'StatePreCandidate'];

const HEX = '0123456789abcdef';

/** `"text"` if every byte is printable ASCII (with \ and " escaped), else `0x` and lowercase hex. */
export function describeData(data: Uint8Array): string {
  let printable = true;
  for (const b of data) {
    if (b < 0x20 || b > 0x7e) {
      printable = false;
      break;
    }
  }
  if (printable) {
    let s = '"';
    for (const b of data) {
      if (b === 0x22 || b === 0x5c) s += '\\';
      s += String.fromCharCode(b);
    }
    return s + '"';
  }
  let s = '0x';
  for (const b of data) s += (HEX[b >> 4] ?? '') + (HEX[b & 15] ?? '');
  return s;
}

function enumName(names: Record<number, string>, v: number, kind: string): string {
  return names[v] ?? `${kind}(${v})`;
}

/** `1/5 EntryNormal "data"`, or `1/3 EntryConfChangeV2 v2 l3` (the changes decoded; none when leaving joint). */
export function describeEntry(e: Entry): string {
  let payload: string;
  if (e.type === EntryType.EntryConfChange || e.type === EntryType.EntryConfChangeV2) {
    try {
      payload = confChangesToString(confChangeAsV2(unmarshalConfChange(e.type, e.data)).changes);
    } catch (err) {
      payload = `<undecodable: ${err instanceof Error ? err.message : String(err)}>`;
    }
  } else {
    payload = describeData(e.data);
  }
  const head = `${e.term}/${e.index} ${enumName(EntryType, e.type, 'EntryType')}`;
  return payload === '' ? head : `${head} ${payload}`;
}

/** One entry per line (no trailing newline). */
export function describeEntries(es: readonly Entry[]): string {
  return es.map(describeEntry).join('\n');
}

/** `Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false` */
export function describeConfState(cs: ConfState): string {
  const l = (ids: readonly NodeId[]) => `[${ids.join(' ')}]`;
  return (
    `Voters:${l(cs.voters)} VotersOutgoing:${l(cs.votersOutgoing)} Learners:${l(cs.learners)} ` +
    `LearnersNext:${l(cs.learnersNext)} AutoLeave:${cs.autoLeave}`
  );
}

/** `Index:10 Term:2 ConfState:Voters:[1 2 3] ...` (the data is not shown). */
export function describeSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

/** `Term:2 Vote:1 Commit:4` (Vote omitted when none). */
export function describeHardState(hs: HardState): string {
  const vote = hs.vote !== 0n ? ` Vote:${hs.vote}` : '';
  return `Term:${hs.term}${vote} Commit:${hs.commit}`;
}

/** `Lead:1 State:StateLeader` */
export function describeSoftState(ss: SoftStateLike): string {
  return `Lead:${ss.lead} State:${enumName(STATE_NAMES, ss.raftState, 'StateType')}`;
}

/** `Index:5 RequestCtx:"ctx"` */
export function describeReadState(rs: ReadStateLike): string {
  return `Index:${rs.index} RequestCtx:${describeData(rs.requestCtx)}`;
}

/**
 * `1->2 MsgApp Term:2 Log:1/5 Commit:4 Entries:[1/6 EntryNormal "x", ...]`. Term and Log always show;
 * then, only when set: `Rejected (Hint: 5)`, `Commit:`, `Entries:[...]`, `Snapshot: ...`, `Context:`.
 */
export function describeMessage(m: Message): string {
  let s =
    `${m.from}->${m.to} ${enumName(MessageType, m.type, 'MessageType')} ` +
    `Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.snapshot !== undefined && !isEmptySnap(m.snapshot)) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  if (m.context.length > 0) s += ` Context:${describeData(m.context)}`;
  return s;
}

/**
 * Multi-line, non-empty parts only, in this order under a `Ready MustSync=<bool>:` header:
 * `SoftState ...` (first, so a trace shows the role change before what the new role sends), `HardState ...`,
 * `Entries:` + lines, `Snapshot ...`, `CommittedEntries:` + lines, `Messages:` + lines, `ReadStates:` + lines. An empty Ready is `<empty Ready>`. No trailing newline.
 */
export function describeReady(rd: ReadyLike): string {
  const out: string[] = [];
  if (rd.softState !== undefined) out.push(`SoftState ${describeSoftState(rd.softState)}`);
  if (!isEmptyHardState(rd.hardState)) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.entries.length > 0) out.push('Entries:', ...rd.entries.map(describeEntry));
  if (!isEmptySnap(rd.snapshot)) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0)
    out.push('CommittedEntries:', ...rd.committedEntries.map(describeEntry));
  if (rd.messages.length > 0) out.push('Messages:', ...rd.messages.map(describeMessage));
  if (rd.readStates.length > 0) out.push('ReadStates:', ...rd.readStates.map(describeReadState));
  if (out.length === 0) return '<empty Ready>';
  return [`Ready MustSync=${rd.mustSync}:`, ...out].join('\n');
}
