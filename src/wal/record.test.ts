import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from './wal.ts';
import { EntryType } from '../raft/raftpb.ts';
import { encodeEntry } from '../raft/raftpb_codec.ts';
import { crc32c } from '../pkg/crc32c.ts';
import { RecordType, encodeHardState, encodeSnapshot, frame, frameBatch } from './record.ts';

test('entries keep their type, and a snapshot marker its ConfState, across a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-walrec-'));
  try {
    const { wal } = await Wal.open(dir);
    const cc = Uint8Array.of(8, 1, 16, 2);
    await wal.save({ term: 1, vote: 0n, commit: 1 }, [
      { index: 1, term: 1, type: EntryType.EntryConfChange, data: cc },
      { index: 2, term: 1, data: Uint8Array.of(1, 2, 3) },
    ]);
    const cs = { voters: [1n, 2n], learners: [3n], votersOutgoing: [], learnersNext: [], autoLeave: false };
    await wal.save({ term: 2, vote: 1n, commit: 2 }, [{ index: 3, term: 2, data: Uint8Array.of(9) }], {
      index: 2,
      term: 1,
      confState: cs,
    });
    await wal.close();
    const { wal: w2, contents } = await Wal.open(dir);
    await w2.close();
    assert.deepEqual(contents.snapshot, { index: 2, term: 1, confState: cs });
    assert.deepEqual(
      contents.entries.map((e) => [e.index, e.type]),
      [[3, EntryType.EntryNormal]],
      'entries at or below the snapshot are dropped, later ones kept',
    );
    assert.deepEqual(contents.hardState, { term: 2, vote: 1n, commit: 2 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a conf change entry reads back as a conf change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tetcd-walrec-'));
  try {
    const { wal } = await Wal.open(dir);
    await wal.save(undefined, [
      { index: 1, term: 1, type: EntryType.EntryConfChange, data: Uint8Array.of(8, 0) },
    ]);
    await wal.close();
    const { wal: w2, contents } = await Wal.open(dir);
    await w2.close();
    assert.equal(contents.entries[0]!.type, EntryType.EntryConfChange);
    assert.deepEqual([...contents.entries[0]!.data], [8, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch framed into one buffer is byte for byte the records framed one by one', () => {
  const snapshot = {
    index: 4,
    term: 2,
    confState: { voters: [1n], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
  };
  const entries = [
    { index: 5, term: 2, data: Uint8Array.of(1, 2, 3) },
    { index: 6, term: 2, type: EntryType.EntryConfChange, data: Uint8Array.of(8, 1) },
    { index: 7, term: 3, type: EntryType.EntryNormal, data: new Uint8Array(0) },
    { index: 2 ** 40, term: 300, data: new Uint8Array(200).fill(7) },
  ];
  const hardState = { term: 3, vote: 2n, commit: 6 };
  // The reference, by hand: [u32 length][u32 crc][u8 type][payload] per record, crc chained.
  const parts: Buffer[] = [];
  let crc = 0x1234abcd;
  const add = (type: RecordType, payload: Uint8Array) => {
    crc = crc32c(payload, crc32c(Uint8Array.of(type), crc));
    const header = Buffer.alloc(9);
    header.writeUInt32LE(payload.length + 1, 0);
    header.writeUInt32LE(crc, 4);
    header[8] = type;
    parts.push(header, Buffer.from(payload));
  };
  add(RecordType.Snapshot, encodeSnapshot(snapshot));
  for (const e of entries) add(RecordType.RaftEntry, encodeEntry({ type: EntryType.EntryNormal, ...e }));
  add(RecordType.HardState, encodeHardState(hardState));
  const batch = frameBatch(0x1234abcd, snapshot, entries, hardState);
  assert.deepEqual(batch.buf, Buffer.concat(parts));
  assert.equal(batch.crc, crc);
  assert.equal(frameBatch(crc, undefined, [], undefined).buf.length, 0);
  const one = frameBatch(crc, undefined, entries.slice(0, 1), undefined);
  assert.deepEqual(
    one.buf,
    frame(RecordType.RaftEntry, encodeEntry({ type: EntryType.EntryNormal, ...entries[0]! }), crc).buf,
  );
});
