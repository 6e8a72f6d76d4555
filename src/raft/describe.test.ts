import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  emptyHardState,
  emptySnapshot,
  message,
  type Entry,
  type Snapshot,
} from './raftpb.ts';
import { encodeConfChange, encodeConfChangeV2 } from './raftpb_codec.ts';
import { confChangesFromString } from './confchange/conv.ts';
import {
  describeConfState,
  describeData,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeReady,
  describeSnapshot,
  describeSoftState,
} from './describe.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const normal = (term: number, index: number, data: string): Entry => ({
  term,
  index,
  type: EntryType.EntryNormal,
  data: enc(data),
});
const snap: Snapshot = {
  data: enc('state'),
  metadata: {
    index: 10,
    term: 2,
    confState: { voters: [1n, 2n, 3n], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false },
  },
};

test('describeData: printable ASCII quoted with escapes, anything else hex', () => {
  assert.equal(describeData(enc('data')), '"data"');
  assert.equal(describeData(new Uint8Array(0)), '""');
  assert.equal(describeData(enc('a"b\\c')), '"a\\"b\\\\c"');
  assert.equal(describeData(new Uint8Array([0, 0xff, 0x41])), '0x00ff41');
  assert.equal(describeData(enc('line\n')), '0x6c696e650a');
});

test('describeEntry: normal, conf change v1 and v2 decoded, leave-joint has no payload', () => {
  assert.equal(describeEntry(normal(1, 5, 'data')), '1/5 EntryNormal "data"');
  assert.equal(describeEntry(normal(1, 5, '')), '1/5 EntryNormal ""');
  const v2 = encodeConfChangeV2({
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: confChangesFromString('v2 l3'),
    context: new Uint8Array(0),
  });
  assert.equal(
    describeEntry({ term: 1, index: 3, type: EntryType.EntryConfChangeV2, data: v2 }),
    '1/3 EntryConfChangeV2 v2 l3',
  );
  const v1 = encodeConfChange({
    type: ConfChangeType.ConfChangeRemoveNode,
    nodeId: 4n,
    context: enc('x'),
    id: 1n,
  });
  assert.equal(
    describeEntry({ term: 2, index: 7, type: EntryType.EntryConfChange, data: v1 }),
    '2/7 EntryConfChange r4',
  );
  assert.equal(
    describeEntry({ term: 2, index: 8, type: EntryType.EntryConfChangeV2, data: new Uint8Array(0) }),
    '2/8 EntryConfChangeV2',
  );
  assert.match(
    describeEntry({ term: 2, index: 9, type: EntryType.EntryConfChange, data: new Uint8Array([0x08]) }),
    /^2\/9 EntryConfChange <undecodable: .+>$/,
  );
  assert.equal(
    describeEntries([normal(1, 1, 'a'), normal(1, 2, 'b')]),
    '1/1 EntryNormal "a"\n1/2 EntryNormal "b"',
  );
});

test('describeMessage: always Term and Log, other fields only when set', () => {
  const app = message({
    type: MessageType.MsgApp,
    from: 1n,
    to: 2n,
    term: 2,
    logTerm: 1,
    index: 5,
    commit: 4,
    entries: [normal(2, 6, 'x'), normal(2, 7, 'y')],
  });
  assert.equal(
    describeMessage(app),
    '1->2 MsgApp Term:2 Log:1/5 Commit:4 Entries:[2/6 EntryNormal "x", 2/7 EntryNormal "y"]',
  );
  const rej = message({
    type: MessageType.MsgAppResp,
    from: 2n,
    to: 1n,
    term: 2,
    index: 6,
    reject: true,
    rejectHint: 5,
  });
  assert.equal(describeMessage(rej), '2->1 MsgAppResp Term:2 Log:0/6 Rejected (Hint: 5)');
  const hup = message({ type: MessageType.MsgHup });
  assert.equal(describeMessage(hup), '0->0 MsgHup Term:0 Log:0/0');
  const ms = message({ type: MessageType.MsgSnap, from: 1n, to: 3n, term: 2, snapshot: snap });
  assert.equal(
    describeMessage(ms),
    '1->3 MsgSnap Term:2 Log:0/0 Snapshot: Index:10 Term:2 ConfState:Voters:[1 2 3] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false',
  );
  const big = message({
    type: MessageType.MsgHeartbeat,
    from: 0xffff_ffff_ffff_fffen,
    to: 2n,
    context: enc('rctx'),
  });
  assert.equal(describeMessage(big), '18446744073709551614->2 MsgHeartbeat Term:0 Log:0/0 Context:"rctx"');
  assert.equal(describeMessage(message({ type: 99 as MessageType })), '0->0 MessageType(99) Term:0 Log:0/0');
});

test('hard state, soft state, conf state, snapshot', () => {
  assert.equal(describeHardState({ term: 2, vote: 1n, commit: 4 }), 'Term:2 Vote:1 Commit:4');
  assert.equal(describeHardState({ term: 2, vote: 0n, commit: 0 }), 'Term:2 Commit:0');
  assert.equal(describeSoftState({ lead: 1n, raftState: 2 }), 'Lead:1 State:StateLeader');
  assert.equal(describeSoftState({ lead: 0n, raftState: 3 }), 'Lead:0 State:StatePreCandidate');
  assert.equal(
    describeConfState({
      voters: [1n, 2n],
      votersOutgoing: [1n],
      learners: [3n],
      learnersNext: [4n],
      autoLeave: true,
    }),
    'Voters:[1 2] VotersOutgoing:[1] Learners:[3] LearnersNext:[4] AutoLeave:true',
  );
  assert.equal(
    describeSnapshot(snap),
    `Index:10 Term:2 ConfState:${describeConfState(snap.metadata.confState)}`,
  );
});

test('describeReady: header, non-empty parts in fixed order, empty Ready', () => {
  const empty = {
    hardState: emptyHardState(),
    readStates: [],
    entries: [],
    snapshot: emptySnapshot(),
    committedEntries: [],
    messages: [],
    mustSync: false,
  };
  assert.equal(describeReady(empty), '<empty Ready>');
  const rd = {
    softState: { lead: 1n, raftState: 2 },
    hardState: { term: 2, vote: 1n, commit: 4 },
    readStates: [{ index: 4, requestCtx: enc('r') }],
    entries: [normal(2, 5, 'e')],
    snapshot: snap,
    committedEntries: [normal(2, 4, 'c')],
    messages: [message({ type: MessageType.MsgHeartbeat, from: 1n, to: 2n, term: 2, commit: 4 })],
    mustSync: true,
  };
  assert.equal(
    describeReady(rd),
    [
      'Ready MustSync=true:',
      'SoftState Lead:1 State:StateLeader',
      'HardState Term:2 Vote:1 Commit:4',
      'Entries:',
      '2/5 EntryNormal "e"',
      `Snapshot ${describeSnapshot(snap)}`,
      'CommittedEntries:',
      '2/4 EntryNormal "c"',
      'Messages:',
      '1->2 MsgHeartbeat Term:2 Log:0/0 Commit:4',
      'ReadStates:',
      'Index:4 RequestCtx:"r"',
    ].join('\n'),
  );
  assert.equal(
    describeReady({ ...empty, softState: { lead: 0n, raftState: 0 } }),
    'Ready MustSync=false:\nSoftState Lead:0 State:StateFollower',
  );
});
