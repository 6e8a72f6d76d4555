import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Channel, frame, FrameKind, FrameReader, helloFrame, parseHello } from './frame.ts';
import { TransportProtocolError } from './errors.ts';

test('FrameReader yields the same frames however the stream is split', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.array(fc.nat({ max: 400 }), { maxLength: 20 }),
      (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((p, i) => frame((i % 7) + 1, p)));
        const r = new FrameReader(1000);
        const got: [number, number[]][] = [];
        let p = 0;
        for (const c of [...cuts, stream.length]) {
          const end = Math.min(stream.length, p + c);
          r.push(stream.subarray(p, end), (kind, payload) => got.push([kind, [...payload]]));
          p = end;
        }
        assert.deepEqual(
          got,
          payloads.map((pl, i) => [(i % 7) + 1, [...pl]]),
        );
      },
    ),
    { numRuns: 300, seed: 7 },
  );
});

test('FrameReader refuses a frame over the limit before buffering it', () => {
  const r = new FrameReader(10);
  r.push(frame(FrameKind.Msg, new Uint8Array(10)), () => {});
  assert.throws(
    () => r.push(frame(FrameKind.Msg, new Uint8Array(11)).subarray(0, 5), () => {}),
    TransportProtocolError,
  );
});

test('hello frames round trip 64-bit IDs and reject bad versions', () => {
  const h = { channel: Channel.Snapshot, clusterId: (1n << 64n) - 1n, from: 1n << 63n, to: 7n };
  const f = helloFrame(h);
  assert.equal(f[4], FrameKind.Hello);
  assert.deepEqual(parseHello(f.subarray(5)), h);
  const bad = f.slice(5);
  bad[0] = 9;
  assert.throws(() => parseHello(bad), TransportProtocolError);
  assert.throws(() => parseHello(f.subarray(5, 10)), TransportProtocolError);
});
