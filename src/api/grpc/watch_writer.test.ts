// The direct HTTP/2 path depends on grpc-js internals: this checks, against the installed grpc-js,
// that it is taken and that what it writes arrives as ordinary messages (in order, after the headers,
// followed by a clean status), and that anything else falls back to call.write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { responseWriter } from './watch_writer.ts';
import { frame } from '../http/grpc_message.ts';

const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

test('with grpc-js base calls, framed responses go straight to HTTP/2 and arrive intact and in order', async () => {
  let framed: boolean | undefined;
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const out = responseWriter(call);
      framed = out.framed;
      let n = 0;
      call.on('data', (req: Buffer) => {
        out.cork();
        // One corked batch of several messages, some large enough to span HTTP/2 frames.
        for (let i = 0; i < 3; i++) {
          const body = Buffer.alloc(i === 1 ? 70_000 : 10, 0x30 + n);
          out.write(frame(Buffer.concat([req, body])), () => {});
          n++;
        }
        out.uncork();
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const call = client.makeBidiStreamRequest('/test.Echo/Echo', identity, identity);
    const got: string[] = [];
    const status = new Promise<grpc.StatusObject>((r) => call.on('status', r));
    call.on('data', (b: Buffer) => got.push(`${b.subarray(0, 1).toString()}${b.length}${b.at(-1)}`));
    call.write(Buffer.from('a'));
    call.write(Buffer.from('b'));
    call.end();
    const s = await status;
    assert.equal(framed, true, 'the direct path was not found in this grpc-js');
    assert.equal(s.code, grpc.status.OK);
    assert.deepEqual(got, ['a1148', 'a7000149', 'a1150', 'b1151', 'b7000152', 'b1153']);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test('a call without grpc-js internals falls back to call.write with unframed messages', () => {
  const written: Buffer[] = [];
  const fake = {
    write: (b: Buffer, cb: () => void) => {
      written.push(b);
      cb();
      return true;
    },
  } as unknown as grpc.ServerDuplexStream<Buffer, Buffer>;
  const out = responseWriter(fake);
  assert.equal(out.framed, false);
  let done = 0;
  out.cork();
  out.write(Buffer.from('x'), () => done++);
  out.uncork();
  assert.deepEqual(written, [Buffer.from('x')]);
  assert.equal(done, 1);
});

test('frame puts the uncompressed flag and the big-endian length before the message', () => {
  assert.deepEqual([...frame(Buffer.from([7, 8, 9]))], [0, 0, 0, 0, 3, 7, 8, 9]);
});
