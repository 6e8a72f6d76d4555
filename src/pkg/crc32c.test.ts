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

/** One byte at a time: the plain definition the sliced version must agree with. */
function bytewise(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('crc32c agrees with the bytewise definition for every length, alignment and seed', () => {
  const buf = new Uint8Array(300);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 167 + 13) & 0xff;
  for (const seed of [0, 1, 0xdeadbeef, 0xffffffff]) {
    for (let off = 0; off < 9; off++) {
      for (let len = 0; len + off <= buf.length; len += len < 40 ? 1 : 37) {
        const s = buf.subarray(off, off + len);
        assert.equal(crc32c(s, seed), bytewise(s, seed), `off ${off} len ${len} seed ${seed}`);
      }
    }
  }
});
