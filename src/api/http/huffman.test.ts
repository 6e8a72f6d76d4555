import { test } from 'node:test';
import assert from 'node:assert/strict';
import { huffmanDecode } from './huffman.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('Huffman strings of RFC 7541 C.4 and C.6 decode to their text', () => {
  const vectors: [string, string][] = [
    ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
    ['a8eb 1064 9cbf', 'no-cache'],
    ['25a8 49e9 5ba9 7d7f', 'custom-key'],
    ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
    ['6402', '302'],
    ['aec3 771a 4b', 'private'],
    ['9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3', 'https://www.example.com'],
  ];
  for (const [code, text] of vectors) assert.equal(huffmanDecode(hex(code))?.toString('latin1'), text);
});

test('the empty string decodes to the empty string', () => {
  assert.equal(huffmanDecode(Buffer.alloc(0))?.length, 0);
});

test('padding must be fewer than 8 one bits, and EOS is refused', () => {
  // 'a' is 00011 (5 bits): padded with three ones is valid, with zeros is not.
  assert.equal(huffmanDecode(Buffer.from([0b00011111]))?.toString(), 'a');
  assert.equal(huffmanDecode(Buffer.from([0b00011000])), undefined);
  // A whole byte of ones is padding of 8 bits (a prefix of EOS that is too long).
  assert.equal(huffmanDecode(Buffer.from([0b00011111, 0xff])), undefined);
  // EOS itself: 30 one bits, then padding.
  assert.equal(huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff])), undefined);
});
