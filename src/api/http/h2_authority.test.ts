import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientStreamRewriter, PREFACE, acceptableAuthority } from './h2_authority.ts';
import { HeaderBlockRewriter, writeInt, type Field } from './hpack.ts';

/**
 * What etcdctl 3.4 (grpc-go) sent for `endpoint hashkv --endpoints=http://127.0.0.1:23792`, captured
 * through a TCP proxy in front of etcd 3.4: preface, SETTINGS, the ACK of the server's SETTINGS, a
 * HEADERS block with `:authority: http://127.0.0.1:23792` (Huffman-coded), DATA, WINDOW_UPDATE, PING.
 */
const ETCDCTL_HASHKV = Buffer.from(
  '505249202a20485454502f322e300d0a0d0a534d0d0a0d0a000000040000000000000000040100000000000077010400' +
    '0000018386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f41909d29aee30c044eae05c0b86e0997' +
    '5f175f8b1d75d0620d263d4c4d65647a8b9acac8b4c7602bb2caecff40027465864d833505b11f40899acac8b24d49' +
    '4f6a7f8669f7d97196ad408d25062d495875996ee5b1063d5f03332e340000050001000000010000000000000008' +
    '06010000000002041010090e07070000040800000000000000004000000806000000000002041010090e0707',
  'hex',
);
const ACK = Buffer.from('000000040100000000', 'hex');

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function frames(b: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let p = PREFACE.length; p < b.length;) {
    const len = b.readUIntBE(p, 3);
    out.push({
      type: b[p + 3]!,
      flags: b[p + 4]!,
      stream: b.readUInt32BE(p + 5),
      payload: b.subarray(p + 9, p + 9 + len),
    });
    p += 9 + len;
  }
  return out;
}

const frame = (type: number, flags: number, stream: number, payload: Buffer) =>
  Buffer.concat([Buffer.from([0, 0, payload.length, type, flags, 0, 0, 0, stream]), payload]);

const headerFields = (b: Buffer): Field[] =>
  new HeaderBlockRewriter(() => undefined).rewrite(frames(b).find((f) => f.type === 1)!.payload)!.fields;

test('an authority Node refuses becomes one of the same length it accepts', () => {
  assert.equal(
    acceptableAuthority(Buffer.from('http://127.0.0.1:2379'))?.toString(),
    'http:__127.0.0.1:2379',
  );
  assert.equal(acceptableAuthority(Buffer.from('user@host:1'))?.toString(), 'user_host:1');
  assert.equal(acceptableAuthority(Buffer.from('127.0.0.1:2379')), undefined);
  assert.equal(acceptableAuthority(Buffer.from('[::1]:2379')), undefined);
  assert.equal(acceptableAuthority(Buffer.from("a-z_A.Z~0!$&'()*+,;=%")), undefined);
});

test("etcdctl's URL authority is rewritten and its ACK of the sniffer's SETTINGS dropped", () => {
  const rw = new ClientStreamRewriter();
  const out = rw.push(ETCDCTL_HASHKV);
  assert.equal(rw.leftover().length, 0);
  assert.equal(rw.ackDropped, true);
  assert.equal(rw.headerBlocks, 1);
  assert.equal(rw.rewrote, true);
  assert.deepEqual(out.subarray(0, PREFACE.length), PREFACE);
  const before = headerFields(ETCDCTL_HASHKV);
  const after = headerFields(out);
  assert.deepEqual(
    before.find((f) => f[0] === ':authority'),
    [':authority', 'http://127.0.0.1:23792'],
  );
  assert.deepEqual(
    after.find((f) => f[0] === ':authority'),
    [':authority', 'http:__127.0.0.1:23792'],
  );
  assert.deepEqual(
    after.filter((f) => f[0] !== ':authority'),
    before.filter((f) => f[0] !== ':authority'),
  );
  const [fin, fout] = [frames(ETCDCTL_HASHKV), frames(out)];
  // The same frames but the ACK, in order; only the HEADERS payload differs (raw, not Huffman).
  assert.deepEqual(
    fin.filter((f) => !(f.type === 4 && f.flags === 1)).map((f) => [f.type, f.flags, f.stream]),
    fout.map((f) => [f.type, f.flags, f.stream]),
  );
  const headers = fout.find((f) => f.type === 1)!;
  assert.equal(headers.flags, 0x4, 'END_HEADERS, no END_STREAM');
  assert.ok(headers.payload.includes(Buffer.from('http:__127.0.0.1:23792')));
  for (const f of fout.filter((f) => f.type !== 1)) {
    assert.ok(fin.some((g) => g.type === f.type && g.payload.equals(f.payload)));
  }
});

test('fed in pieces of any size, the rewriter produces the same bytes', () => {
  const whole = new ClientStreamRewriter().push(ETCDCTL_HASHKV);
  for (const size of [1, 2, 3, 7, 9, 10, 64]) {
    const rw = new ClientStreamRewriter();
    const parts: Buffer[] = [];
    for (let i = 0; i < ETCDCTL_HASHKV.length; i += size)
      parts.push(rw.push(ETCDCTL_HASHKV.subarray(i, i + size)));
    assert.deepEqual(Buffer.concat(parts), whole, `pieces of ${size}`);
    assert.equal(rw.leftover().length, 0);
  }
});

test('a stream with an acceptable authority passes through unchanged but the ACK', () => {
  const fine = Buffer.from(ETCDCTL_HASHKV);
  const rw = new ClientStreamRewriter();
  // Cut before the header block completes: what is held is exactly the unreturned input.
  const cut = 80;
  const first = rw.push(fine.subarray(0, cut));
  assert.deepEqual(
    Buffer.concat([first, rw.leftover()]),
    Buffer.concat([PREFACE, fine.subarray(24, 33), fine.subarray(42, cut)]),
  );
  assert.equal(rw.headerBlocks, 0);
  // A stream whose first HEADERS names a plain host:port is returned byte for byte (minus the ACK).
  const settings = Buffer.from('000000040000000000', 'hex');
  const block = Buffer.from('8386418b089d5c0b8170dc132ebe2f', 'hex');
  const plain = Buffer.concat([PREFACE, settings, ACK, frame(1, 0x4, 1, block)]);
  const rw2 = new ClientStreamRewriter();
  const out = rw2.push(plain);
  assert.equal(rw2.rewrote, false);
  assert.equal(rw2.headerBlocks, 1);
  assert.deepEqual(out, Buffer.concat([PREFACE, settings, frame(1, 0x4, 1, block)]));
  assert.deepEqual(headerFields(out).at(-1), [':authority', '127.0.0.1:23792']);
});

test('a HEADERS block split over CONTINUATIONs, padded and with priority, is rewritten whole', () => {
  const block = Buffer.concat([
    Buffer.from('8286 8441 15'.replace(/ /g, ''), 'hex'),
    Buffer.from('http://127.0.0.1:2379'),
  ]);
  const prio = Buffer.from([0, 0, 0, 1, 15]);
  const input = Buffer.concat([
    PREFACE,
    ACK,
    frame(
      1,
      0x8 | 0x20 | 0x1,
      3,
      Buffer.concat([Buffer.from([2]), prio, block.subarray(0, 5), Buffer.alloc(2)]),
    ),
    frame(9, 0, 3, block.subarray(5, 12)),
    frame(9, 0x4, 3, block.subarray(12)),
  ]);
  const rw = new ClientStreamRewriter();
  const out = rw.push(input);
  assert.equal(rw.rewrote, true);
  const fs = frames(out);
  assert.equal(fs.length, 1);
  assert.equal(fs[0]!.flags, 0x4 | 0x20 | 0x1, 'END_HEADERS | PRIORITY | END_STREAM, padding gone');
  assert.deepEqual(fs[0]!.payload.subarray(0, 5), prio);
  const fields = new HeaderBlockRewriter(() => undefined).rewrite(fs[0]!.payload.subarray(5))!.fields;
  assert.deepEqual(fields.at(-1), [':authority', 'http:__127.0.0.1:2379']);
});

test('garbage after the preface never throws; the rewriter then passes bytes through', () => {
  let seed = 11;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (let i = 0; i < 500; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + (i % 200) }, rand));
    // A HEADERS frame header in front, so the HPACK decoder sees the junk too.
    const hdr = Buffer.from([0, 0, Math.min(junk.length, 255), 1, 4, 0, 0, 0, 1]);
    const input = Buffer.concat([PREFACE, ACK, hdr, junk]);
    const rw = new ClientStreamRewriter();
    let out: Buffer = Buffer.alloc(0);
    assert.doesNotThrow(() => {
      out = Buffer.concat([rw.push(input.subarray(0, 40)), rw.push(input.subarray(40))]);
    });
    if (rw.broken)
      assert.deepEqual(Buffer.concat([out, rw.leftover()]), Buffer.concat([PREFACE, input.subarray(33)]));
  }
  // Every truncation of a real stream is handled too.
  for (let n = 0; n <= ETCDCTL_HASHKV.length; n++) {
    const rw = new ClientStreamRewriter();
    assert.doesNotThrow(() => rw.push(ETCDCTL_HASHKV.subarray(0, n)));
    assert.equal(rw.broken, false, `cut at ${n}`);
  }
});

test('a rewritten block larger than a frame goes out as HEADERS plus CONTINUATION', () => {
  // A Huffman ':authority' URL (from the capture above) and a raw 20,000-byte header value.
  const big = Buffer.concat([
    Buffer.from('8386 4190 9d29aee30c044eae05c0b86e09975f17 400178'.replace(/ /g, ''), 'hex'),
    writeInt(20_000, 7, 0),
    Buffer.alloc(20_000, 'v'),
  ]);
  const hdr = Buffer.alloc(9);
  hdr.writeUIntBE(big.length, 0, 3);
  hdr[3] = 1;
  hdr[4] = 0x4 | 0x1;
  hdr.writeUInt32BE(5, 5);
  const rw = new ClientStreamRewriter();
  const out = rw.push(Buffer.concat([PREFACE, ACK, hdr, big]));
  assert.equal(rw.rewrote, true);
  const fs = frames(out);
  assert.deepEqual(
    fs.map((f) => [f.type, f.flags, f.stream, f.payload.length]),
    [
      [1, 0x1, 5, 16384],
      [9, 0x4, 5, big.length + 6 - 16384],
    ],
  );
  const fields = new HeaderBlockRewriter(() => undefined).rewrite(
    Buffer.concat(fs.map((f) => f.payload)),
  )!.fields;
  assert.deepEqual(fields.slice(2), [
    [':authority', 'http:__127.0.0.1:23792'],
    ['x', 'v'.repeat(20_000)],
  ]);
});
