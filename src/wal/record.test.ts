import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from './wal.ts';
import { EntryType } from '../raft/raftpb.ts';

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
