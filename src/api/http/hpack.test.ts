import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HeaderDecoder,
  encodeField,
  readInt,
  readString,
  writeInt,
  writeString,
  type Field,
} from './hpack.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('prefix integers encode and decode as in RFC 7541 C.1', () => {
  assert.deepEqual(writeInt(10, 5, 0), hex('0a'));
  assert.deepEqual(writeInt(1337, 5, 0), hex('1f9a0a'));
  assert.deepEqual(writeInt(42, 8, 0), hex('2a'));
  assert.deepEqual(writeInt(31, 5, 0xe0), hex('ff00'), 'the prefix maximum needs a zero continuation');
  assert.deepEqual(readInt(hex('1f9a0a'), 0, 5), { value: 1337, next: 3 });
  assert.deepEqual(readInt(hex('ea'), 0, 5), { value: 10, next: 1 }, 'bits above the prefix are ignored');
  for (const v of [0, 1, 126, 127, 128, 255, 16383, 16384, 2 ** 20]) {
    for (const p of [4, 5, 6, 7, 8]) assert.equal(readInt(writeInt(v, p, 0), 0, p)?.value, v);
  }
});

test('a truncated or oversized integer is refused', () => {
  assert.equal(readInt(hex('1f9a'), 0, 5), undefined);
  assert.equal(readInt(hex(''), 0, 5), undefined);
  assert.equal(readInt(hex('1fffffffffff7f'), 0, 5), undefined);
});

test('strings: raw and Huffman literals decode, a short one is refused', () => {
  assert.equal(readString(writeString(Buffer.from('abc')), 0)?.value.toString(), 'abc');
  assert.equal(readString(hex('8cf1e3c2e5f23a6ba0ab90f4ff'), 0)?.value.toString(), 'www.example.com');
  assert.equal(readString(hex('0561'), 0), undefined);
});

test('the request examples of RFC 7541 C.3 (raw) and C.4 (Huffman) decode with one table', () => {
  const blocks = {
    raw: [
      '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '8286 84be 5808 6e6f 2d63 6163 6865',
      '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
    ],
    huffman: [
      '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
      '8286 84be 5886 a8eb 1064 9cbf',
      '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
    ],
  };
  const want: Field[][] = [
    [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'],
    [
      ':method',
      'GET',
      ':scheme',
      'http',
      ':path',
      '/',
      ':authority',
      'www.example.com',
      'cache-control',
      'no-cache',
    ],
    [
      ...[':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com'],
      ...['custom-key', 'custom-value'],
    ],
  ].map((flat) => flat.flatMap((_, i) => (i % 2 === 0 ? [[flat[i]!, flat[i + 1]!] as const] : [])));
  for (const seq of Object.values(blocks)) {
    const d = new HeaderDecoder();
    const sizes = seq.map((b, i) => {
      assert.deepEqual(d.decode(hex(b)), want[i]);
      return d.tableSize;
    });
    assert.deepEqual(sizes, [57, 110, 164]);
  }
});

test('encodeField writes a literal without indexing that decodes and leaves the table empty', () => {
  const block = Buffer.concat([encodeField('grpc-status', '0'), encodeField('grpc-message', 'x%20y')]);
  assert.deepEqual(block.subarray(0, 2), hex('000b'), 'literal, new name, raw 11-byte name');
  const d = new HeaderDecoder();
  assert.deepEqual(d.decode(block), [
    ['grpc-status', '0'],
    ['grpc-message', 'x%20y'],
  ]);
  assert.equal(d.tableSize, 0);
  const long = 'v'.repeat(300);
  assert.deepEqual(new HeaderDecoder().decode(encodeField('k', long)), [['k', long]]);
});

test('a size update above the announced limit is refused', () => {
  assert.equal(new HeaderDecoder(4096).decode(hex('3fe21f')), undefined, 'update to 4097');
  assert.ok(new HeaderDecoder(4096).decode(hex('3fe11f')), 'update to 4096');
});

test('a size update evicts; entries beyond the table are refused', () => {
  const d = new HeaderDecoder();
  assert.ok(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')));
  assert.equal(d.tableSize, 57);
  assert.ok(d.decode(hex('20'))); // max size 0: the table empties
  assert.equal(d.tableSize, 0);
  assert.equal(d.decode(hex('be')), undefined, 'index 62 no longer exists');
  assert.equal(d.decode(hex('80')), undefined, 'index 0 is invalid');
});

test('truncated blocks and garbage are refused without throwing', () => {
  const block = hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf');
  for (let n = 1; n < block.length; n++) {
    const d = new HeaderDecoder();
    d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'));
    const r = d.decode(block.subarray(0, n));
    // A cut between two fields is a valid (shorter) block; inside a field it must be refused.
    if (r) assert.ok(r.length < 5);
  }
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + (i % 40) }, rand));
    assert.doesNotThrow(() => new HeaderDecoder().decode(junk));
  }
});

test('a header list past the limit stops materialising fields but keeps the dynamic table in step', () => {
  const d = new HeaderDecoder();
  const lit = (name: string, value: string) =>
    Buffer.concat([Buffer.from([0x40]), writeString(Buffer.from(name)), writeString(Buffer.from(value))]);
  // RFC 7541 sizes: ':method: POST' (static 3) is 7 + 4 + 32 = 43; each 'x-?: ????' 3 + 4 + 32 = 39.
  const block = Buffer.concat([hex('83'), lit('x-a', 'aaaa'), lit('x-b', 'bbbb'), hex('be')]);
  const fields = d.decode(block, 43 + 39)!;
  assert.deepEqual(fields, [
    [':method', 'POST'],
    ['x-a', 'aaaa'],
  ]);
  assert.equal(d.truncated, true);
  assert.equal(d.listSize, 43 + 39 * 3, 'the whole list is counted, the reference to x-b too');
  // x-b was added to the table although not returned: index 62 is it, 63 is x-a.
  assert.deepEqual(d.decode(hex('bebf'), 1000), [
    ['x-b', 'bbbb'],
    ['x-a', 'aaaa'],
  ]);
  assert.equal(d.truncated, false);
  assert.equal(d.listSize, 78);
  // Without a limit nothing is cut; a bad index past the limit is still a malformed block.
  assert.equal(d.decode(block)!.length, 4);
  assert.equal(d.decode(Buffer.concat([hex('83'), Buffer.from([0x80 | 120])]), 10), undefined);
});
