import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { RequestHead } from '../http/h2_server.ts';
import { Context, MessageReader, ownBytes, requestEncoding, timeoutMs } from './call.ts';
import { Code, StatusError } from './status.ts';

function prefixed(b: Buffer, flag = 0, len = b.length): Buffer {
  const p = Buffer.alloc(5);
  p[0] = flag;
  p.writeUInt32BE(len, 1);
  return Buffer.concat([p, b]);
}

const framed = (...msgs: string[]) => Buffer.concat(msgs.map((m) => prefixed(Buffer.from(m))));

/** MessageReader.push with the sink given as two functions. */
function push(r: MessageReader, c: Buffer, message: (m: Buffer) => void, wantMore: () => boolean): void {
  r.push(c, { message, wantMore });
}

/** Pushes each chunk into `r`; returns the messages cut, as strings. */
function cut(r: MessageReader, chunks: Buffer[], more: () => boolean = () => true): string[] {
  const got: string[] = [];
  for (const c of chunks) push(r, c, (m) => void got.push(m.toString()), more);
  return got;
}

/** What `fn` throws, as [code, details]. */
function statusThrown(fn: () => void): [Code, string] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return [err.code, err.details];
  }
  assert.fail('nothing thrown');
}

// ---- timeoutMs

test('grpc-timeout values convert to milliseconds for every unit', () => {
  assert.equal(timeoutMs('1H'), 3_600_000);
  assert.equal(timeoutMs('2M'), 120_000);
  assert.equal(timeoutMs('5S'), 5000);
  assert.equal(timeoutMs('250m'), 250);
  assert.equal(timeoutMs('4999975u'), 4999.975);
  assert.equal(timeoutMs('1000000n'), 1);
  assert.equal(timeoutMs('0m'), 0);
  assert.equal(timeoutMs('99999999H'), 2 ** 31 - 1, 'capped at what setTimeout takes');
});

test('malformed grpc-timeout values are ignored', () => {
  for (const bad of [undefined, '', 'S', '5', '5x', '5s', '-5S', '1.5S', '123456789S', 'NaNS', 'InfinityS']) {
    assert.equal(timeoutMs(bad), undefined, String(bad));
  }
});

test('a grpc-timeout value is digits only: exponents, hex, spaces and decimal points are malformed', () => {
  // The gRPC spec: TimeoutValue is a positive integer as an ASCII string of at most 8 digits.
  for (const bad of ['1e3S', '0x10S', '0b1S', ' 5S', '5 S', '5.0S', '5.S']) {
    assert.equal(timeoutMs(bad), undefined, JSON.stringify(bad));
  }
});

// ---- ownBytes

test('a small message in a large read buffer is copied out; anything else is kept as it is', () => {
  const big = Buffer.alloc(64 * 1024, 7);
  const small = big.subarray(100, 400);
  const own = ownBytes(small);
  assert.notEqual(own.buffer, big.buffer);
  assert.equal(own.buffer.byteLength, 300);
  assert.deepEqual(own, small);
  const most = big.subarray(0, 60 * 1024);
  assert.equal(ownBytes(most), most);
  const fromSmallRead = Buffer.alloc(1000).subarray(10, 20);
  assert.equal(ownBytes(fromSmallRead), fromSmallRead);
});

// ---- requestEncoding

test('request encoding: none or identity is identity, gzip is gzip, anything else is UNIMPLEMENTED', () => {
  const h = (encoding: string | undefined): RequestHead => ({
    method: 'POST',
    path: '/a.B/C',
    contentType: 'application/grpc',
    encoding,
    timeout: undefined,
    fields: [],
  });
  assert.equal(requestEncoding(h(undefined)), 'identity');
  assert.equal(requestEncoding(h('identity')), 'identity');
  assert.equal(requestEncoding(h('gzip')), 'gzip');
  const snappy = requestEncoding(h('snappy'));
  assert.ok(snappy instanceof StatusError);
  assert.equal(snappy.code, Code.UNIMPLEMENTED);
  assert.equal(snappy.details, 'grpc: Decompressor is not installed for grpc-encoding "snappy"');
});

// ---- Context

test('Context: metadata returns the first value of a field, undefined when absent', () => {
  const c = new Context(
    '/a.B/C',
    [
      ['x-a', '1'],
      ['x-b', '2'],
      ['x-a', '3'],
    ],
    undefined,
  );
  assert.equal(c.metadata('x-a'), '1');
  assert.equal(c.metadata('x-b'), '2');
  assert.equal(c.metadata('x-c'), undefined);
  assert.equal(c.path, '/a.B/C');
  assert.equal(c.deadline, undefined);
});

test('Context: the deadline is now plus grpc-timeout on the performance.now() clock', () => {
  const before = performance.now();
  const c = new Context('/a.B/C', [], '250m');
  assert.ok(c.deadline! >= before + 250 && c.deadline! <= performance.now() + 250);
  assert.equal(new Context('/a.B/C', [], 'bogus').deadline, undefined);
});

test('Context: a signal asked for before abort() fires once; one created after it is already aborted', () => {
  const c = new Context('/a.B/C', [], undefined);
  const s = c.signal;
  let fired = 0;
  s.addEventListener('abort', () => fired++);
  assert.equal(s.aborted, false);
  c.abort();
  c.abort();
  assert.equal(s.aborted, true);
  assert.equal(fired, 1);
  assert.equal(c.signal, s, 'the same signal every time');
  const late = new Context('/a.B/C', [], undefined);
  late.abort();
  assert.equal(late.signal.aborted, true);
});

// ---- MessageReader

test('MessageReader: two messages split at every point, in two and in three chunks', () => {
  const body = framed('hello', 'world!!');
  for (let i = 0; i <= body.length; i++) {
    const two = cut(new MessageReader(64, 'identity'), [body.subarray(0, i), body.subarray(i)]);
    assert.deepEqual(two, ['hello', 'world!!'], `split at ${i}`);
    for (let j = i; j <= body.length; j++) {
      const r = new MessageReader(64, 'identity');
      const three = cut(r, [body.subarray(0, i), body.subarray(i, j), body.subarray(j)]);
      assert.deepEqual(three, ['hello', 'world!!'], `split at ${i} and ${j}`);
      assert.equal(r.pending, false);
    }
  }
});

test('MessageReader: several messages in one chunk, empty ones included', () => {
  const got = cut(new MessageReader(64, 'identity'), [framed('a', '', 'bc', '')]);
  assert.deepEqual(got, ['a', '', 'bc', '']);
});

test('MessageReader: more() false stops the cutting; the rest waits for the next push', () => {
  const r = new MessageReader(64, 'identity');
  let room = 1;
  const got: string[] = [];
  const take = (m: Buffer) => {
    got.push(m.toString());
    room--;
  };
  push(r, framed('a', 'b', 'c'), take, () => room > 0);
  assert.deepEqual(got, ['a']);
  assert.equal(r.pending, true);
  room = 2;
  push(r, Buffer.alloc(0), take, () => room > 0);
  assert.deepEqual(got, ['a', 'b', 'c']);
  assert.equal(r.pending, false);
});

test('MessageReader: pending is true while part of a message (prefix or body) waits', () => {
  const r = new MessageReader(64, 'identity');
  const none = () => assert.fail('no message expected');
  assert.equal(r.pending, false);
  const body = framed('abc', 'de');
  push(r, body.subarray(0, 2), none, () => true);
  assert.equal(r.pending, true, 'part of a prefix');
  push(r, body.subarray(2, 5), none, () => true);
  assert.equal(r.pending, true, 'a whole prefix, no body');
  const got: string[] = [];
  push(
    r,
    body.subarray(5, 8),
    (m) => void got.push(m.toString()),
    () => true,
  );
  assert.deepEqual(got, ['abc']);
  assert.equal(r.pending, false, 'a whole message');
  push(r, body.subarray(8, 9), none, () => true);
  assert.equal(r.pending, true, 'the next prefix begun');
});

test('MessageReader: a message of exactly max passes; a prefix over max throws as soon as it is in', () => {
  assert.deepEqual(cut(new MessageReader(3, 'identity'), [framed('abc')]), ['abc']);
  const r = new MessageReader(3, 'identity');
  const prefix = prefixed(Buffer.alloc(0), 0, 4);
  push(
    r,
    prefix.subarray(0, 4),
    () => {},
    () => true,
  );
  assert.deepEqual(
    statusThrown(() =>
      push(
        r,
        prefix.subarray(4),
        () => {},
        () => true,
      ),
    ),
    [Code.RESOURCE_EXHAUSTED, 'grpc: received message larger than max (4 vs. 3)'],
  );
});

test('MessageReader: a small message cut from a large read owns its bytes', () => {
  const read = Buffer.alloc(64 * 1024);
  framed('tiny').copy(read);
  let msg: Buffer | undefined;
  push(
    new MessageReader(1024, 'identity'),
    read.subarray(0, 9),
    (m) => (msg = m),
    () => true,
  );
  assert.equal(msg!.toString(), 'tiny');
  assert.ok(msg!.buffer.byteLength < 16 * 1024, `pins ${msg!.buffer.byteLength} bytes`);
});

test('MessageReader gzip: a compressed message is inflated; an uncompressed one passes as it is', () => {
  const r = new MessageReader(64, 'gzip');
  const body = Buffer.concat([prefixed(gzipSync(Buffer.from('zipped')), 1), framed('plain')]);
  assert.deepEqual(cut(r, [body.subarray(0, 11), body.subarray(11)]), ['zipped', 'plain']);
});

test('MessageReader gzip: inflated up to max passes; one byte more is RESOURCE_EXHAUSTED', () => {
  const at = prefixed(gzipSync(Buffer.alloc(100, 1)), 1);
  assert.equal(cut(new MessageReader(100, 'gzip'), [at])[0]!.length, 100);
  const over = prefixed(gzipSync(Buffer.alloc(101, 1)), 1);
  const [code, details] = statusThrown(() => cut(new MessageReader(100, 'gzip'), [over]));
  assert.equal(code, Code.RESOURCE_EXHAUSTED);
  assert.match(details, /^grpc: received message after decompression larger than max/);
});

test('MessageReader gzip: a bomb stops at the limit, not after inflating it whole', () => {
  // 250 members of 4 MiB of zeros: 1 MB compressed, 1000 MiB inflated.
  const member = gzipSync(Buffer.alloc(4 << 20), { level: 9 });
  const bomb = prefixed(Buffer.concat(Array.from({ length: 250 }, () => member)), 1);
  const rss = process.resourceUsage().maxRSS; // KiB, the peak so far
  const [code] = statusThrown(() => cut(new MessageReader(2 << 20, 'gzip'), [bomb]));
  assert.equal(code, Code.RESOURCE_EXHAUSTED);
  const grew = process.resourceUsage().maxRSS - rss;
  assert.ok(grew < 128 * 1024, `peak memory grew ${grew} KiB`);
});

test('MessageReader gzip: bytes that do not inflate are INTERNAL', () => {
  const [code, details] = statusThrown(() =>
    cut(new MessageReader(64, 'gzip'), [prefixed(Buffer.from('not gzip'), 1)]),
  );
  assert.equal(code, Code.INTERNAL);
  assert.match(details, /^grpc: failed to decompress the received message/);
});

test('MessageReader: a compressed flag with identity is INTERNAL; a flag other than 0 or 1 too', () => {
  assert.deepEqual(
    statusThrown(() => cut(new MessageReader(64, 'identity'), [prefixed(Buffer.from('x'), 1)])),
    [Code.INTERNAL, 'grpc: compressed flag set with identity or empty encoding'],
  );
  assert.deepEqual(
    statusThrown(() => cut(new MessageReader(64, 'gzip'), [prefixed(Buffer.from('x'), 2)])),
    [Code.INTERNAL, 'grpc: received unexpected payload format 2'],
  );
});

test('MessageReader.whole: exactly one uncompressed message with nothing waiting, else undefined', () => {
  const r = new MessageReader(8, 'gzip');
  assert.equal(r.whole(framed('abc'))?.toString(), 'abc');
  assert.equal(r.whole(framed(''))?.length, 0);
  assert.equal(r.whole(framed('a', 'b')), undefined, 'two messages: push() cuts them');
  assert.equal(r.whole(framed('abc').subarray(0, 6)), undefined, 'a message cut short');
  assert.equal(r.whole(prefixed(Buffer.from('x'), 1)), undefined, 'compressed: push() inflates it');
  assert.throws(() => r.whole(framed('123456789')), /larger than max \(9 vs\. 8\)/);
  push(
    r,
    framed('ab').subarray(0, 3),
    () => assert.fail('no message yet'),
    () => true,
  );
  assert.equal(r.whole(framed('c')), undefined, 'part of a message waits before it');
});
