import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { MessageType, message, type MemoryStorage } from '../raft/index.ts';
import type { Wal } from '../wal/wal.ts';
import { createLogger } from '../pkg/logger.ts';
import { importBackend } from '../snap/backend_snapshot.ts';
import { SnapshotPolicy } from './snapshot.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-snappolicy-'));
  dirs.push(d);
  return d;
}
const B = (s: string) => Buffer.from(s);

test('a MsgSnap holds every write its index counts, even one the backend had not committed yet', async () => {
  const backend = Backend.open(tmp());
  backend.put('key', B('a'), B('1'));
  await backend.commit();
  let applied = 1;
  // The Ready loop, by hand: tasks run only when the test says (between two "Readys").
  const tasks: (() => Promise<void>)[] = [];
  const policy = new SnapshotPolicy({
    raft: {
      walTask: (fn) => void tasks.push(fn),
      saveSnapshotMarker: async () => {},
      confState: () => ({
        voters: [1n],
        learners: [],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      }),
    },
    storage: { snapshot: () => ({ metadata: { index: 0 } }), term: () => 2 } as unknown as MemoryStorage,
    wal: {} as Wal,
    stores: {
      backend,
      appliedIndex: () => applied,
      revision: () => 1,
      beforeRestore: () => {},
      reload: async () => {},
    },
    snapshotter: { release: () => {} },
    log: createLogger('silent'),
    snapshotCount: 1000,
    catchupEntries: 10,
    fatal: (err) => assert.fail(String(err)),
  });
  const filled = policy.fillSnapshot(message({ type: MessageType.MsgSnap, from: 1n, to: 2n, term: 2 }));
  // Entry 2 applies before the snapshot is taken, and its batch is handed to LMDB but has not landed.
  backend.put('key', B('b'), B('2'));
  applied = 2;
  const landing = backend.commit();
  for (const t of tasks.splice(0)) await t();
  const m = await filled;
  await landing;
  assert.equal(m.snapshot!.metadata.index, 2);
  assert.equal(m.snapshot!.metadata.term, 2);
  const follower = Backend.open(tmp());
  importBackend(follower, m.snapshot!.data);
  await follower.commit();
  assert.equal(follower.get('key', B('a'))?.toString(), '1');
  assert.equal(follower.get('key', B('b'))?.toString(), '2', 'the write at index 2 is in the data');
  await backend.close();
  await follower.close();
});
