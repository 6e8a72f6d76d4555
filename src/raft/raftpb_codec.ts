// Protobuf encoding of raft's wire types (proto/raftpb/raft.proto, etcd's field numbers), hand-written so
// src/raft stays free of dependencies and so the transport's hot path (every MsgApp) costs one size pass
// and one write into a preallocated buffer.
//
// Encoding follows etcd (gogoproto, non-nullable fields): scalars are written even when zero, bytes only
// when non-empty, Message.snapshot only when present; fields go out in field-number order, repeated
// uint64 unpacked (proto2), which is also what protobufjs writes. Decoding accepts any field order,
// packed or unpacked repeated uint64, and skips unknown fields. uint64 IDs are bigint end to end; terms
// and indexes are numbers and a decoded value above 2^53-1 is refused. Every decoding failure is a
// ProtoDecodeError; decoded byte fields are copies, never views of the input.
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  message,
  type Snapshot,
  type SnapshotMetadata,
} from './raftpb.ts';
import {
  ProtoDecodeError,
  Reader,
  readIds,
  sizeBytes,
  sizeEnum,
  sizeU64,
  sizeUint,
  want,
  WIRE_BYTES,
  WIRE_VARINT,
  Writer,
} from './raftpb_wire.ts';

export { ProtoDecodeError } from './raftpb_wire.ts';

const EMPTY = new Uint8Array(0);

function sizeEntry(e: Entry): number {
  return (
    3 +
    sizeEnum(e.type) +
    sizeUint(e.term) +
    sizeUint(e.index) +
    (e.data.length ? 1 + sizeBytes(e.data.length) : 0)
  );
}

function sizeIds(ids: readonly bigint[]): number {
  let n = ids.length;
  for (const id of ids) n += sizeU64(id);
  return n;
}

function sizeConfState(cs: ConfState): number {
  return (
    sizeIds(cs.voters) + sizeIds(cs.learners) + sizeIds(cs.votersOutgoing) + sizeIds(cs.learnersNext) + 2
  );
}

function sizeMetadata(md: SnapshotMetadata): number {
  return 3 + sizeBytes(sizeConfState(md.confState)) + sizeUint(md.index) + sizeUint(md.term);
}

function sizeSnapshot(s: Snapshot): number {
  return (s.data.length ? 1 + sizeBytes(s.data.length) : 0) + 1 + sizeBytes(sizeMetadata(s.metadata));
}

/** The encoded size of `m` (what encodeMessageInto writes). */
export function messageSize(m: Message): number {
  let n =
    10 +
    sizeEnum(m.type) +
    sizeU64(m.to) +
    sizeU64(m.from) +
    sizeUint(m.term) +
    sizeUint(m.logTerm) +
    sizeUint(m.index) +
    sizeUint(m.commit) +
    sizeUint(m.rejectHint);
  for (const e of m.entries) n += 1 + sizeBytes(sizeEntry(e));
  if (m.snapshot !== undefined) n += 1 + sizeBytes(sizeSnapshot(m.snapshot));
  if (m.context.length) n += 1 + sizeBytes(m.context.length);
  return n;
}

function writeEntry(w: Writer, e: Entry): void {
  w.enumField(1, e.type);
  w.uintField(2, e.term);
  w.uintField(3, e.index);
  w.bytesField(4, e.data);
}

function writeConfState(w: Writer, cs: ConfState): void {
  for (const id of cs.voters) w.u64Field(1, id);
  for (const id of cs.learners) w.u64Field(2, id);
  for (const id of cs.votersOutgoing) w.u64Field(3, id);
  for (const id of cs.learnersNext) w.u64Field(4, id);
  w.uintField(5, cs.autoLeave ? 1 : 0);
}

function writeMetadata(w: Writer, md: SnapshotMetadata): void {
  w.tag(1, WIRE_BYTES);
  w.uint(sizeConfState(md.confState));
  writeConfState(w, md.confState);
  w.uintField(2, md.index);
  w.uintField(3, md.term);
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.bytesField(1, s.data);
  w.tag(2, WIRE_BYTES);
  w.uint(sizeMetadata(s.metadata));
  writeMetadata(w, s.metadata);
}

/**
 * Encodes `m` into `buf` at `offset`, which must have messageSize(m) bytes free; returns the end offset.
 * Lets the transport write many frames into one buffer without intermediate copies.
 */
export function encodeMessageInto(m: Message, buf: Uint8Array, offset: number): number {
  const w = new Writer(buf, offset);
  w.enumField(1, m.type);
  w.u64Field(2, m.to);
  w.u64Field(3, m.from);
  w.uintField(4, m.term);
  w.uintField(5, m.logTerm);
  w.uintField(6, m.index);
  for (const e of m.entries) {
    w.tag(7, WIRE_BYTES);
    w.uint(sizeEntry(e));
    writeEntry(w, e);
  }
  w.uintField(8, m.commit);
  if (m.snapshot !== undefined) {
    w.tag(9, WIRE_BYTES);
    w.uint(sizeSnapshot(m.snapshot));
    writeSnapshot(w, m.snapshot);
  }
  w.uintField(10, m.reject ? 1 : 0);
  w.uintField(11, m.rejectHint);
  w.bytesField(12, m.context);
  return w.pos;
}

function encodeWith<T>(v: T, size: (v: T) => number, write: (w: Writer, v: T) => void): Uint8Array {
  const buf = new Uint8Array(size(v));
  const w = new Writer(buf, 0);
  write(w, v);
  if (w.pos !== buf.length) throw new Error(`raftpb codec: wrote ${w.pos} bytes, sized ${buf.length}`);
  return buf;
}

export function encodeMessage(m: Message): Uint8Array {
  const buf = new Uint8Array(messageSize(m));
  const end = encodeMessageInto(m, buf, 0);
  if (end !== buf.length) throw new Error(`raftpb codec: wrote ${end} bytes, sized ${buf.length}`);
  return buf;
}

export const encodeEntry = (e: Entry): Uint8Array => encodeWith(e, sizeEntry, writeEntry);

/** The encoded size of `e` (what encodeEntryInto writes). */
export const entrySize = sizeEntry;

/** Encodes `e` into `buf` at `offset`, which must have entrySize(e) bytes free; returns the end offset. */
export function encodeEntryInto(e: Entry, buf: Uint8Array, offset: number): number {
  const w = new Writer(buf, offset);
  writeEntry(w, e);
  return w.pos;
}
export const encodeConfState = (cs: ConfState): Uint8Array => encodeWith(cs, sizeConfState, writeConfState);
export const encodeSnapshotMetadata = (md: SnapshotMetadata): Uint8Array =>
  encodeWith(md, sizeMetadata, writeMetadata);
export const encodeSnapshot = (s: Snapshot): Uint8Array => encodeWith(s, sizeSnapshot, writeSnapshot);

export function encodeHardState(hs: HardState): Uint8Array {
  return encodeWith(
    hs,
    (h) => 3 + sizeUint(h.term) + sizeU64(h.vote) + sizeUint(h.commit),
    (w, h) => {
      w.uintField(1, h.term);
      w.u64Field(2, h.vote);
      w.uintField(3, h.commit);
    },
  );
}

function readEntry(r: Reader): Entry {
  const e: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY };
  while (r.pos < r.end) {
    const key = r.key();
    switch (key >>> 3) {
      case 1:
        want(key, WIRE_VARINT);
        e.type = r.int32();
        break;
      case 2:
        want(key, WIRE_VARINT);
        e.term = r.uint53('Entry.term');
        break;
      case 3:
        want(key, WIRE_VARINT);
        e.index = r.uint53('Entry.index');
        break;
      case 4:
        want(key, WIRE_BYTES);
        e.data = r.bytes();
        break;
      default:
        r.skip(key & 7);
    }
  }
  return e;
}

function readConfState(r: Reader): ConfState {
  const cs: ConfState = { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  while (r.pos < r.end) {
    const key = r.key();
    switch (key >>> 3) {
      case 1:
        readIds(r, key, cs.voters);
        break;
      case 2:
        readIds(r, key, cs.learners);
        break;
      case 3:
        readIds(r, key, cs.votersOutgoing);
        break;
      case 4:
        readIds(r, key, cs.learnersNext);
        break;
      case 5:
        want(key, WIRE_VARINT);
        cs.autoLeave = r.bool();
        break;
      default:
        r.skip(key & 7);
    }
  }
  return cs;
}

function readMetadata(r: Reader): SnapshotMetadata {
  const md: SnapshotMetadata = {
    confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
    index: 0,
    term: 0,
  };
  while (r.pos < r.end) {
    const key = r.key();
    switch (key >>> 3) {
      case 1:
        want(key, WIRE_BYTES);
        md.confState = r.nested(readConfState);
        break;
      case 2:
        want(key, WIRE_VARINT);
        md.index = r.uint53('SnapshotMetadata.index');
        break;
      case 3:
        want(key, WIRE_VARINT);
        md.term = r.uint53('SnapshotMetadata.term');
        break;
      default:
        r.skip(key & 7);
    }
  }
  return md;
}

function readSnapshot(r: Reader): Snapshot {
  let data: Uint8Array = EMPTY;
  let metadata: SnapshotMetadata | undefined;
  while (r.pos < r.end) {
    const key = r.key();
    if (key >>> 3 === 1) {
      want(key, WIRE_BYTES);
      data = r.bytes();
    } else if (key >>> 3 === 2) {
      want(key, WIRE_BYTES);
      metadata = r.nested(readMetadata);
    } else {
      r.skip(key & 7);
    }
  }
  return { data, metadata: metadata ?? readMetadata(new Reader(EMPTY)) };
}

function readMessage(r: Reader): Message {
  const m = message({ type: 0 });
  while (r.pos < r.end) {
    const key = r.key();
    const field = key >>> 3;
    if (field === 7) {
      want(key, WIRE_BYTES);
      m.entries.push(r.nested(readEntry));
      continue;
    }
    switch (field) {
      case 1:
        want(key, WIRE_VARINT);
        m.type = r.int32();
        break;
      case 2:
        want(key, WIRE_VARINT);
        m.to = r.u64();
        break;
      case 3:
        want(key, WIRE_VARINT);
        m.from = r.u64();
        break;
      case 4:
        want(key, WIRE_VARINT);
        m.term = r.uint53('Message.term');
        break;
      case 5:
        want(key, WIRE_VARINT);
        m.logTerm = r.uint53('Message.logTerm');
        break;
      case 6:
        want(key, WIRE_VARINT);
        m.index = r.uint53('Message.index');
        break;
      case 8:
        want(key, WIRE_VARINT);
        m.commit = r.uint53('Message.commit');
        break;
      case 9:
        want(key, WIRE_BYTES);
        m.snapshot = r.nested(readSnapshot);
        break;
      case 10:
        want(key, WIRE_VARINT);
        m.reject = r.bool();
        break;
      case 11:
        want(key, WIRE_VARINT);
        m.rejectHint = r.uint53('Message.rejectHint');
        break;
      case 12:
        want(key, WIRE_BYTES);
        m.context = r.bytes();
        break;
      default:
        r.skip(key & 7);
    }
  }
  return m;
}

function decodeWith<T>(buf: Uint8Array, read: (r: Reader) => T): T {
  return read(new Reader(buf));
}

export const decodeMessage = (buf: Uint8Array): Message => decodeWith(buf, readMessage);
export const decodeEntry = (buf: Uint8Array): Entry => decodeWith(buf, readEntry);
export const decodeConfState = (buf: Uint8Array): ConfState => decodeWith(buf, readConfState);
export const decodeSnapshotMetadata = (buf: Uint8Array): SnapshotMetadata => decodeWith(buf, readMetadata);
export const decodeSnapshot = (buf: Uint8Array): Snapshot => decodeWith(buf, readSnapshot);

export function decodeHardState(buf: Uint8Array): HardState {
  const r = new Reader(buf);
  const hs: HardState = { term: 0, vote: 0n, commit: 0 };
  while (r.pos < r.end) {
    const key = r.key();
    const field = key >>> 3;
    if (field >= 1 && field <= 3) want(key, WIRE_VARINT);
    if (field === 1) hs.term = r.uint53('HardState.term');
    else if (field === 2) hs.vote = r.u64();
    else if (field === 3) hs.commit = r.uint53('HardState.commit');
    else r.skip(key & 7);
  }
  return hs;
}

// ---- conf changes ----

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encodeWith(
    cc,
    (c) =>
      3 +
      sizeU64(c.id) +
      sizeEnum(c.type) +
      sizeU64(c.nodeId) +
      (c.context.length ? 1 + sizeBytes(c.context.length) : 0),
    (w, c) => {
      w.u64Field(1, c.id);
      w.enumField(2, c.type);
      w.u64Field(3, c.nodeId);
      w.bytesField(4, c.context);
    },
  );
}

export function decodeConfChange(buf: Uint8Array): ConfChange {
  const cc: ConfChange = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0n, context: EMPTY, id: 0n };
  const r = new Reader(buf);
  while (r.pos < r.end) {
    const key = r.key();
    const field = key >>> 3;
    if (field >= 1 && field <= 4) want(key, field === 4 ? WIRE_BYTES : WIRE_VARINT);
    if (field === 1) cc.id = r.u64();
    else if (field === 2) cc.type = r.int32();
    else if (field === 3) cc.nodeId = r.u64();
    else if (field === 4) cc.context = r.bytes();
    else r.skip(key & 7);
  }
  return cc;
}

const sizeSingle = (c: ConfChangeSingle): number => 2 + sizeEnum(c.type) + sizeU64(c.nodeId);

function sizeConfChangeV2(cc: ConfChangeV2): number {
  let n = 1 + sizeEnum(cc.transition);
  for (const c of cc.changes) n += 1 + sizeBytes(sizeSingle(c));
  if (cc.context.length) n += 1 + sizeBytes(cc.context.length);
  return n;
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  return encodeWith(cc, sizeConfChangeV2, (w, v) => {
    w.enumField(1, v.transition);
    for (const c of v.changes) {
      w.tag(2, WIRE_BYTES);
      w.uint(sizeSingle(c));
      w.enumField(1, c.type);
      w.u64Field(2, c.nodeId);
    }
    w.bytesField(3, v.context);
  });
}

function readSingle(r: Reader): ConfChangeSingle {
  const c: ConfChangeSingle = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0n };
  while (r.pos < r.end) {
    const key = r.key();
    const field = key >>> 3;
    if (field === 1 || field === 2) want(key, WIRE_VARINT);
    if (field === 1) c.type = r.int32();
    else if (field === 2) c.nodeId = r.u64();
    else r.skip(key & 7);
  }
  return c;
}

/** An empty buffer decodes to the empty ConfChangeV2, i.e. "leave the joint config". */
export function decodeConfChangeV2(buf: Uint8Array): ConfChangeV2 {
  const cc: ConfChangeV2 = {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [],
    context: EMPTY,
  };
  const r = new Reader(buf);
  while (r.pos < r.end) {
    const key = r.key();
    const field = key >>> 3;
    if (field >= 1 && field <= 3) want(key, field === 1 ? WIRE_VARINT : WIRE_BYTES);
    if (field === 1) cc.transition = r.int32();
    else if (field === 2) cc.changes.push(r.nested(readSingle));
    else if (field === 3) cc.context = r.bytes();
    else r.skip(key & 7);
  }
  return cc;
}

/** The entry type and payload for proposing a conf change (v1 stays v1, like etcd's MarshalConfChange). */
export function marshalConfChange(cc: ConfChange | ConfChangeV2): { type: EntryType; data: Uint8Array } {
  if ('nodeId' in cc) return { type: EntryType.EntryConfChange, data: encodeConfChange(cc) };
  return { type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2(cc) };
}

/** Decodes the payload of a conf-change entry of the given type. */
export function unmarshalConfChange(type: EntryType, data: Uint8Array): ConfChange | ConfChangeV2 {
  if (type === EntryType.EntryConfChange) return decodeConfChange(data);
  if (type === EntryType.EntryConfChangeV2) return decodeConfChangeV2(data);
  throw new ProtoDecodeError(`entry type ${EntryType[type] ?? type} is not a conf change`);
}
