import { after, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from './backend.ts';
import { BatchCommitter } from './batch_committer.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function open(): Backend {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-batch-'));
  dirs.push(d);
  return Backend.open(d);
}
const B = (s: string) => Buffer.from(s);

test('a scheduled commit waits for the interval; a full batch commits at once', async () => {
  const backend = open();
  const fatals: unknown[] = [];
  const c = new BatchCommitter(backend, (e) => fatals.push(e), 10_000, 3);
  backend.put('key', B('a'), B('1'));
  c.schedule();
  assert.equal(backend.pendingWrites(), 1, 'below the limit: nothing commits before the interval');
  backend.put('key', B('b'), B('2'));
  backend.put('key', B('c'), B('3'));
  c.schedule();
  assert.equal(backend.pendingWrites(), 0, 'at the limit: handed to LMDB at once');
  c.close();
  await backend.close();
  assert.deepEqual(fatals, []);
});

test('the interval commits what is pending; close() cancels a scheduled commit', async () => {
  const backend = open();
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const c = new BatchCommitter(backend, (e) => assert.fail(String(e)), 20, 1000);
    backend.put('key', B('a'), B('1'));
    c.schedule();
    mock.timers.tick(19);
    assert.equal(backend.pendingWrites(), 1);
    mock.timers.tick(1);
    assert.equal(backend.pendingWrites(), 0, 'the interval passed: committed');
    backend.put('key', B('b'), B('2'));
    c.schedule();
    c.close();
    mock.timers.tick(100);
    assert.equal(backend.pendingWrites(), 1, 'closed: the owner commits the rest itself');
  } finally {
    mock.timers.reset();
  }
  await backend.close();
});
