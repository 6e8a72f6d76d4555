import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus, humanBytes } from './tetcdutl_format.ts';

test('humanBytes is go-humanize’s Bytes, ties rounded to even as Go’s %.0f', () => {
  assert.equal(humanBytes(9), '9 B');
  assert.equal(humanBytes(512), '512 B');
  assert.equal(humanBytes(20480), '20 kB'); // 20.5 -> 20 (etcdctl prints 20 kB for this size)
  assert.equal(humanBytes(21504), '22 kB'); // 21.5 -> 22
  assert.equal(humanBytes(86016), '86 kB');
  assert.equal(humanBytes(1_500_000), '1.5 MB');
  assert.equal(humanBytes(459_321_344), '459 MB');
});

test('status in etcdctl’s table form', () => {
  const s = { hash: 0xaacb65a4, revision: 57, totalKey: 60, totalSize: 86016 };
  assert.equal(
    formatStatus(s, 'table'),
    '+----------+----------+------------+------------+\n' +
      '|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n' +
      '+----------+----------+------------+------------+\n' +
      '| aacb65a4 |       57 |         60 |      86 kB |\n' +
      '+----------+----------+------------+------------+\n',
  );
  assert.equal(formatStatus(s, 'simple'), 'aacb65a4, 57, 60, 86 kB\n');
});
