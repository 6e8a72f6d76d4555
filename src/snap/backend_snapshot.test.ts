import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { META_MEMBER_ID } from '../backend/schema.ts';
import { SnapshotFormatError, exportBackend, importBackend } from './backend_snapshot.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-snapdb-'));
  dirs.push(d);
  return d;
}
const B = (s: string) => Buffer.from(s);

test('import replaces every bucket with the export, keeping the member’s own identity', async () => {
  const src = Backend.open(tmp());
  src.put('key', B('k1'), B('v1'));
  src.put('members', B('m'), B('leader-view'));
  src.put('meta', META_MEMBER_ID, B('leader-id'));
  src.put('meta', B('consistent_index'), B('12345678'));
  await src.commit();
  const data = exportBackend(src);

  const dst = Backend.open(tmp());
  dst.put('key', B('stale'), B('x'));
  dst.put('meta', META_MEMBER_ID, B('my-id'));
  await dst.commit();
  importBackend(dst, data);
  await dst.commit();
  assert.equal(dst.get('key', B('stale')), undefined, 'stale keys are gone');
  assert.equal(dst.get('key', B('k1'))?.toString(), 'v1');
  assert.equal(dst.get('members', B('m'))?.toString(), 'leader-view');
  assert.equal(dst.get('meta', B('consistent_index'))?.toString(), '12345678');
  assert.equal(dst.get('meta', META_MEMBER_ID)?.toString(), 'my-id');
  await src.close();
  await dst.close();
});

test('a damaged export is refused with SnapshotFormatError', async () => {
  const be = Backend.open(tmp());
  be.put('key', B('k'), B('v'));
  await be.commit();
  const data = exportBackend(be);
  assert.throws(() => importBackend(be, data.subarray(0, data.length - 3)), SnapshotFormatError);
  assert.throws(() => importBackend(be, Buffer.from('nope')), SnapshotFormatError);
  await be.close();
});

test('a backend with more records than a call takes arguments exports and imports whole', async () => {
  // Spreading one bucket's records into a single push() overflowed the stack near 30k keys.
  const N = 200_000;
  const src = Backend.open(tmp());
  for (let i = 0; i < N; i++) src.put('key', B(`k${i}`), B(`v${i}`));
  await src.commit();
  const data = exportBackend(src);
  const dst = Backend.open(tmp());
  importBackend(dst, data);
  await dst.commit();
  let n = 0;
  dst.forEach('key', undefined, undefined, () => void n++);
  assert.equal(n, N);
  assert.equal(dst.get('key', B(`k${N - 1}`))?.toString(), `v${N - 1}`);
  await src.close();
  await dst.close();
});
