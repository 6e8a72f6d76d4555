import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { listenClient, type ClientListener } from './listener.ts';
import { EMPTY_SETTINGS, PREFACE } from './h2_authority.ts';

// One listener over a grpc-js server with no services: every call ends UNIMPLEMENTED (grpc-status
// 12), which proves grpc-js got and decoded the request.
let listener: ClientListener;
const grpcServer = new grpc.Server();
const httpServer = createHttpServer((_req, res) => res.end('plain http'));
const WAIT_MS = 50;

before(async () => {
  listener = await listenClient(
    '127.0.0.1',
    0,
    grpcServer,
    grpc.ServerCredentials.createInsecure(),
    httpServer,
    WAIT_MS,
  );
});
after(async () => {
  await listener.close();
  grpcServer.forceShutdown();
});

interface Answer {
  status: number | undefined;
  grpcStatus: string | undefined;
}

/** Sends one bodiless gRPC request on `session` and collects its status from headers or trailers. */
function call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/x.Y/Z',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const a: Answer = { status: undefined, grpcStatus: undefined };
    req.on('response', (h) => {
      a.status = Number(h[':status']);
      a.grpcStatus ??= h['grpc-status'] as string | undefined;
    });
    req.on('trailers', (t) => (a.grpcStatus ??= t['grpc-status'] as string | undefined));
    req.on('error', reject);
    req.on('close', () =>
      req.rstCode ? reject(new Error(`stream reset with code ${req.rstCode}`)) : resolve(a),
    );
    req.resume();
    req.end();
  });
}

test("Node's own HTTP/2 server resets a stream whose :authority is a URL (why the rewriter exists)", async () => {
  const plain = http2.createServer((_req, res) => res.end());
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  const s = http2.connect(`http://127.0.0.1:${(plain.address() as { port: number }).port}`);
  try {
    await assert.rejects(call(s, { ':authority': 'http://127.0.0.1:2379' }), /NGHTTP2_PROTOCOL_ERROR/);
  } finally {
    s.destroy();
    await new Promise((r) => plain.close(r));
  }
});

test('requests with a URL :authority reach grpc-js, also after the table evicted it', async () => {
  const s = http2.connect(`http://127.0.0.1:${listener.port}`);
  try {
    // Big distinct headers push the authority out of the 4 KiB table, so the client sends it again
    // as a literal; a table out of step would garble every later block.
    for (let i = 0; i < 12; i++) {
      const a = await call(s, {
        ':authority': 'http://127.0.0.1:2379',
        [`x-pad-${i}`]: String(i).repeat(900),
      });
      assert.deepEqual(a, { status: 200, grpcStatus: '12' }, `request ${i}`);
    }
  } finally {
    s.destroy();
  }
});

test('a grpc-js client (raw socket path) and an HTTP/1 client still work', async () => {
  const client = new grpc.Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
  try {
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        '/x.Y/Z',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e) => resolve(e),
      ),
    );
    assert.equal(err?.code, grpc.status.UNIMPLEMENTED);
  } finally {
    client.close();
  }
  const body = await new Promise<string>((resolve, reject) =>
    httpGet(`http://127.0.0.1:${listener.port}/`, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve(b));
    }).on('error', reject),
  );
  assert.equal(body, 'plain http');
});

test("a client that waits after its preface gets the sniffer's SETTINGS, then the server's", async () => {
  const sock = connect(listener.port, '127.0.0.1');
  try {
    let got = Buffer.alloc(0);
    const more = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (got.length < n) return;
          sock.off('data', onData);
          resolve();
        };
        const onData = (d: Buffer) => {
          got = Buffer.concat([got, d]);
          check();
        };
        sock.on('data', onData);
        sock.once('error', reject);
        check();
      });
    sock.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
    await more(9);
    assert.deepEqual(got.subarray(0, 9), EMPTY_SETTINGS);
    sock.write(Buffer.from('000000040100000000', 'hex')); // ACK, then silence
    // After the wait, grpc-js's session starts: its SETTINGS and its ACK of ours arrive.
    await more(18);
    const frames: [number, number][] = [];
    for (let p = 9; p + 9 <= got.length; p += 9 + got.readUIntBE(p, 3))
      frames.push([got[p + 3]!, got[p + 4]!]);
    assert.ok(
      frames.some(([t, f]) => t === 4 && f === 0),
      `no server SETTINGS in ${got.toString('hex')}`,
    );
  } finally {
    sock.destroy();
  }
});
