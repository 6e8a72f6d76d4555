import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ownBytes, routeUnaryCalls, timeoutMs, type FastHandler } from './fast_unary.ts';

const raw = (b: Buffer) => b;
const ident = {
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
};
// One grpc-js service with three methods; the fast path takes two of them.
const definition: grpc.ServiceDefinition = {
  Slow: { path: '/t.S/Slow', requestStream: false, responseStream: false, ...ident },
  Fast: { path: '/t.S/Fast', requestStream: false, responseStream: false, ...ident },
  Hang: { path: '/t.S/Hang', requestStream: false, responseStream: false, ...ident },
};

let server: grpc.Server;
let net: NetServer;
let client: grpc.Client;
let routed = false;
const MAX = 1024;

before(async () => {
  server = new grpc.Server();
  server.addService(definition, {
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.concat([Buffer.from('grpc-js:'), call.request])),
    Fast: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('not routed')),
    Hang: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('not routed')),
  });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const routes = new Map<string, FastHandler>([
    [
      '/t.S/Fast',
      {
        run: (req) => {
          if (req.toString() === 'throw') throw new Error('boom: 100% wrong é');
          if (req.toString() === 'reject') return Promise.reject(new Error('later'));
          if (req.toString() === 'sync') return { out: Buffer.from('sync answer') };
          return Promise.resolve({ out: Buffer.concat([Buffer.from('fast:'), req]) });
        },
        encode: (v) => {
          const out = (v as { out: Buffer }).out;
          if (out.toString() === 'fast:unencodable') throw new Error('cannot encode');
          return out;
        },
      },
    ],
    ['/t.S/Hang', { run: () => new Promise<object>(() => {}), encode: () => new Uint8Array(0) }],
  ]);
  routed = routeUnaryCalls(server, routes, {
    maxReceiveBytes: MAX,
    onError: (method, err) => ({
      code: grpc.status.FAILED_PRECONDITION,
      details: `${method} ${String(err)}`,
    }),
  });
  net = createServer((s) => injector.injectConnection(s));
  await new Promise<void>((r) => net.listen(0, '127.0.0.1', r));
  const port = (net.address() as { port: number }).port;
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

after(() => {
  client.close();
  server.forceShutdown();
  net.close();
});

function call(path: string, body: Buffer, deadlineMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(path, raw, raw, body, { deadline: Date.now() + deadlineMs }, (err, v) =>
      err ? reject(err) : resolve(v!),
    );
  });
}

async function rejects(p: Promise<unknown>, code: grpc.status, details: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: grpc.ServiceError) => {
    assert.equal(e.code, code);
    if (typeof details === 'string') assert.equal(e.details, details);
    else assert.match(e.details, details);
    return true;
  });
}

test('grpc-js internals are found and routes are taken over', () => {
  assert.equal(routed, true);
});

test('a routed path is answered by its handler; any other path still by grpc-js', async () => {
  assert.equal((await call('/t.S/Fast', Buffer.from('x'))).toString(), 'fast:x');
  assert.equal((await call('/t.S/Slow', Buffer.from('y'))).toString(), 'grpc-js:y');
  // A handler may answer synchronously.
  assert.equal((await call('/t.S/Fast', Buffer.from('sync'))).toString(), 'sync answer');
  // Empty request and response bodies frame correctly.
  assert.equal((await call('/t.S/Fast', Buffer.alloc(0))).toString(), 'fast:');
  // Many calls on one connection in parallel all get their own answer.
  const outs = await Promise.all(
    Array.from({ length: 50 }, (_, i) => call('/t.S/Fast', Buffer.from(`${i}`))),
  );
  assert.deepEqual(
    outs.map((b) => b.toString()),
    Array.from({ length: 50 }, (_, i) => `fast:${i}`),
  );
});

test('thrown and rejected errors reach the client through the mapper, message intact', async () => {
  await rejects(
    call('/t.S/Fast', Buffer.from('throw')),
    grpc.status.FAILED_PRECONDITION,
    '/t.S/Fast Error: boom: 100% wrong é',
  );
  await rejects(
    call('/t.S/Fast', Buffer.from('reject')),
    grpc.status.FAILED_PRECONDITION,
    '/t.S/Fast Error: later',
  );
});

test('a request over the receive limit is refused with RESOURCE_EXHAUSTED; the connection keeps serving', async () => {
  await rejects(call('/t.S/Fast', Buffer.alloc(MAX + 1)), grpc.status.RESOURCE_EXHAUSTED, /larger than max/);
  assert.equal((await call('/t.S/Fast', Buffer.alloc(MAX, 97))).length, 'fast:'.length + MAX);
});

test('a call that outlives its deadline ends with DEADLINE_EXCEEDED', async () => {
  await rejects(
    call('/t.S/Hang', Buffer.from('z'), 150),
    grpc.status.DEADLINE_EXCEEDED,
    /Deadline exceeded/i,
  );
  assert.equal((await call('/t.S/Fast', Buffer.from('after'))).toString(), 'fast:after');
});

test('grpc-timeout header values convert to milliseconds; malformed ones are ignored', () => {
  assert.equal(timeoutMs('5S'), 5000);
  assert.equal(timeoutMs('250m'), 250);
  assert.equal(timeoutMs('1H'), 3_600_000);
  assert.equal(timeoutMs('2M'), 120_000);
  assert.equal(timeoutMs('4999975u'), 4999.975);
  assert.equal(timeoutMs('1000000n'), 1);
  for (const bad of [undefined, '', 'S', '5', '5x', '-5S', '1.5S', '1234567890S', ['5S']]) {
    assert.equal(timeoutMs(bad), undefined, String(bad));
  }
});

test('a server without the expected internals is left alone', () => {
  const s = new grpc.Server();
  assert.equal(
    routeUnaryCalls(s, new Map(), { maxReceiveBytes: 1, onError: () => ({ code: 2, details: '' }) }),
    false,
  );
  s.forceShutdown();
});

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
