import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c } from './crc32c.ts';

test('crc32c matches the published check value for "123456789"', () => {
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('crc32c of empty input is 0 and chaining equals one pass', () => {
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const a = new TextEncoder().encode('hello, ');
  const b = new TextEncoder().encode('world');
  const whole = new TextEncoder().encode('hello, world');
  assert.equal(crc32c(b, crc32c(a)), crc32c(whole));
});
