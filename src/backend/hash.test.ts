import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from './backend.ts';
import { hashBackend } from './hash.ts';
import { META_CONSISTENT_INDEX, META_MEMBER_ID } from './schema.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function open(): Backend {
  const d = mkdtempSync(join(tmpdir(), 'tetcd-hash-'));
  dirs.push(d);
  return Backend.open(d);
}
const B = (s: string) => Buffer.from(s);

test('two backends with the same data hash alike, whatever their applied index and member ID', async () => {
  const a = open();
  const b = open();
  for (const be of [a, b]) {
    be.put('key', B('k1'), B('v1'));
    be.put('lease', B('l1'), B('x'));
  }
  a.put('meta', META_CONSISTENT_INDEX, B('11111111'));
  b.put('meta', META_CONSISTENT_INDEX, B('22222222'));
  a.put('meta', META_MEMBER_ID, B('a'));
  b.put('meta', META_MEMBER_ID, B('b'));
  await a.commit();
  await b.commit();
  assert.equal(hashBackend(a), hashBackend(b));
  await a.close();
  await b.close();
});

test('a changed value, a key in another bucket or a missing key changes the hash', async () => {
  const be = open();
  be.put('key', B('k1'), B('v1'));
  await be.commit();
  const h0 = hashBackend(be);
  be.put('key', B('k1'), B('v2'));
  await be.commit();
  const h1 = hashBackend(be);
  assert.notEqual(h1, h0);
  be.del('key', B('k1'));
  be.put('lease', B('k1'), B('v2'));
  await be.commit();
  assert.notEqual(hashBackend(be), h1, 'the bucket a record is in counts');
  await be.close();
});
