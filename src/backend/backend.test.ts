import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Backend } from './backend.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-backend-'));
  dirs.push(d);
  return d;
}
const B = (s: string) => Buffer.from(s);

test('buffered writes are visible before commit; a buffered delete hides the stored value', async () => {
  const be = Backend.open(tmp());
  be.put('key', B('a'), B('1'));
  assert.equal(be.get('key', B('a'))?.toString(), '1');
  const committing = be.commit();
  assert.equal(be.get('key', B('a'))?.toString(), '1', 'visible while in flight');
  await committing;
  be.del('key', B('a'));
  assert.equal(be.get('key', B('a')), undefined);
  await be.commit();
  assert.equal(be.get('key', B('a')), undefined);
  await be.close();
});

test('committed batches survive close and reopen; buckets are separate', async () => {
  const dir = tmp();
  let be = Backend.open(dir);
  be.put('key', B('k'), B('v'));
  be.put('meta', B('k'), B('m'));
  await be.close();
  be = Backend.open(dir);
  assert.equal(be.get('key', B('k'))?.toString(), 'v');
  assert.equal(be.get('meta', B('k'))?.toString(), 'm');
  const seen: string[] = [];
  be.forEach('key', undefined, undefined, (k, v) => void seen.push(`${k}=${v}`));
  assert.deepEqual(seen, ['k=v']);
  assert.ok(be.size() > 0 && be.sizeInUse() > 0 && be.sizeInUse() <= be.size());
  await be.close();
});

test('a process killed with SIGKILL leaves every committed batch whole and nothing of the others', async () => {
  const dir = tmp();
  const script = join(dir, 'writer.mts');
  writeFileSync(
    script,
    `import { Backend } from ${JSON.stringify(new URL('./backend.ts', import.meta.url).pathname)};
const be = Backend.open(${JSON.stringify(join(dir, 'db'))});
for (let b = 0; b < 50; b++) {
  for (let i = 0; i < 20; i++) be.put('key', Buffer.from(\`b\${String(b).padStart(3, '0')}/\${i}\`), Buffer.from(String(b)));
  await be.commit();
}
for (let i = 0; i < 20; i++) be.put('key', Buffer.from(\`zz/\${i}\`), Buffer.from('never committed'));
process.kill(process.pid, 'SIGKILL');
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { timeout: 30_000 });
  assert.equal(r.signal, 'SIGKILL', r.stderr?.toString());
  const be = Backend.open(join(dir, 'db'));
  const perBatch = new Map<string, number>();
  be.forEach('key', undefined, undefined, (k) => {
    const b = k.toString().split('/')[0]!;
    perBatch.set(b, (perBatch.get(b) ?? 0) + 1);
  });
  assert.equal(perBatch.has('zz'), false, 'an uncommitted batch was written');
  for (const [b, n] of perBatch) assert.equal(n, 20, `batch ${b} is torn`);
  assert.equal(perBatch.size, 50);
  await be.close();
});

test('defragment shrinks the file and keeps every write, including those committed while it copies', async () => {
  const dir = tmp();
  const be = Backend.open(dir);
  const big = Buffer.alloc(4096, 0x61);
  for (let i = 0; i < 2000; i++) be.put('key', B(`k${String(i).padStart(5, '0')}`), big);
  await be.commit();
  for (let i = 0; i < 1900; i++) be.del('key', B(`k${String(i).padStart(5, '0')}`));
  await be.commit();
  const before = be.size();
  const defrag = be.defragment();
  // Writes and reads go on while the copy is made: a batch per turn until it is done.
  let n = 0;
  let finished = false;
  void defrag.then(() => (finished = true));
  while (!finished && n < 10_000) {
    be.put('lease', B(`during${n}`), B(String(n)));
    be.del('key', B(`k${String(1900 + (n % 50)).padStart(5, '0')}`));
    await be.commit();
    assert.equal(be.get('key', B('k01999'))?.length, 4096);
    n++;
  }
  const r = await defrag;
  assert.ok(n > 0, 'at least one batch was committed during the copy');
  assert.equal(r.sizeBefore, before);
  assert.ok(r.sizeAfter < before / 4, `the file shrank: ${before} -> ${r.sizeAfter}`);
  for (let i = 0; i < n; i++) assert.equal(be.get('lease', B(`during${i}`))?.toString(), String(i));
  assert.equal(be.get('key', B('k01900')), undefined);
  assert.equal(be.get('key', B('k01999'))?.length, 4096);
  be.put('lease', B('after'), B('1'));
  await be.close();
  // Reopened from disk: the defragmented file is the database, with everything in it.
  const again = Backend.open(dir);
  assert.equal(again.get('lease', B('after'))?.toString(), '1');
  assert.equal(again.get('lease', B(`during${n - 1}`))?.toString(), String(n - 1));
  let keys = 0;
  again.forEach('key', undefined, undefined, () => void keys++);
  assert.equal(keys, 100 - Math.min(n, 50));
  await again.close();
});

test('two defragmentations at once share one run', async () => {
  const be = Backend.open(tmp());
  be.put('key', B('a'), B('1'));
  await be.commit();
  const [a, b] = [be.defragment(), be.defragment()];
  assert.equal(a, b);
  await a;
  assert.equal(be.get('key', B('a'))?.toString(), '1');
  await be.close();
});

test('a read view open across a defragmentation keeps reading the data it began with', async () => {
  const be = Backend.open(tmp());
  for (let i = 0; i < 100; i++) be.put('key', B(`k${i}`), B(`v${i}`));
  await be.commit();
  const view = be.readView();
  const it = view.entries('key')[Symbol.iterator]();
  assert.equal(it.next().value?.[0].toString(), 'k0');
  be.put('key', B('k0'), B('changed'));
  await be.commit();
  await be.defragment();
  await be.commit(); // the old environment's close has had its turn
  let n = 1;
  for (let r = it.next(); !r.done; r = it.next()) n++;
  assert.equal(n, 100);
  assert.equal(
    [...view.entries('key')][0]![1].toString(),
    'v0',
    'the view still sees the value it began with',
  );
  view.done();
  assert.equal(be.get('key', B('k0'))?.toString(), 'changed');
  await be.close();
});

test('a batch still in flight when a defragmentation starts is in the defragmented file', async () => {
  for (let round = 0; round < 20; round++) {
    const dir = tmp();
    const be = Backend.open(dir);
    for (let i = 0; i < 200; i++) be.put('key', B(`k${i}`), Buffer.alloc(2000, 1));
    await be.commit();
    be.put('lease', B('in-flight'), B(String(round)));
    const committing = be.commit(); // handed to LMDB, not committed yet
    const defrag = be.defragment();
    await committing;
    await defrag;
    be.put('lease', B('after'), B('1'));
    await be.close();
    const again = Backend.open(dir);
    assert.equal(again.get('lease', B('in-flight'))?.toString(), String(round), `round ${round}`);
    assert.equal(again.get('lease', B('after'))?.toString(), '1');
    await again.close();
  }
});
