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
