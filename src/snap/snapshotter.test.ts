import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Snapshotter, snapDir } from './snapshotter.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const B = (s: string) => Buffer.from(s);

test('snapshot files are kept until released', () => {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-snapfiles-'));
  dirs.push(d);
  const snaps = new Snapshotter(snapDir(d));
  assert.equal(snaps.dir, join(d, 'member', 'snap'));
  assert.equal(snaps.load(10), undefined, 'no directory yet: nothing to load');
  snaps.release(10);
  snaps.save(10, B('ten'));
  snaps.save(20, B('twenty'));
  assert.equal(snaps.load(10)?.toString(), 'ten');
  snaps.release(15);
  assert.equal(snaps.load(10), undefined);
  assert.equal(snaps.load(20)?.toString(), 'twenty');
});

test('purge keeps the newest max files and never one the backend does not hold (--max-snapshots)', () => {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-snapfiles-'));
  dirs.push(d);
  const snaps = new Snapshotter(snapDir(d));
  assert.deepEqual(snaps.purge(1, 100), [], 'no directory: nothing to purge');
  for (const i of [10, 20, 30, 40]) snaps.save(i, B(`s${i}`));
  assert.deepEqual(snaps.purge(0, 100), [], '0: keep all');
  assert.deepEqual(snaps.purge(4, 100), [], 'four files, four kept');
  assert.deepEqual(
    snaps.purge(2, 15),
    ['000000000000000a.snap.db'],
    'only files at or below the applied index go',
  );
  assert.equal(snaps.load(20)?.toString(), 's20');
  assert.deepEqual(snaps.purge(2, 100), ['0000000000000014.snap.db']);
  assert.equal(snaps.load(30)?.toString(), 's30');
  assert.equal(snaps.load(40)?.toString(), 's40');
  assert.deepEqual(snaps.purge(1, 35), ['000000000000001e.snap.db']);
  assert.deepEqual(snaps.purge(1, 100), [], 'one file left: kept');
});
