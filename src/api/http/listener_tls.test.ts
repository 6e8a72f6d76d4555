// The client port with TLS: gRPC over h2 and HTTP/1.1 behind one handshake, the connection's address
// and verified CN handed to every call, the handshake bounded by the preface timeout and counted
// among the connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { listenClient, type ClientListener } from './listener.ts';
import type { ConnInfo, LocalCall, RequestHead, StreamSink } from './h2_server.ts';
import { certDir, makeCa, type Ca } from '../../../test/helpers/certs.ts';
import { CLIENT_FLAGS, TlsSource } from '../../pkg/tls.ts';

let ca: Ca;
let dir: ReturnType<typeof certDir>;
let client: { cert: string; key: string };
let listener: ClientListener;
const rejected: string[] = [];
const seen: (ConnInfo | undefined)[] = [];
const httpServer = createHttpServer((req, res) => res.end(`plain http ${req.method} ${req.url}`));

function route(head: RequestHead, sink: StreamSink): LocalCall {
  seen.push(head.conn);
  sink.reply(new Uint8Array(0));
  return { data() {}, end() {}, cancel() {} };
}

before(async () => {
  ca = await makeCa();
  dir = certDir('tetcd-listener-tls-');
  const server = dir.write('server', await ca.issue('server'));
  const c = dir.write('client', await ca.issue('alice'));
  client = { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8') };
  const source = new TlsSource(
    {
      certFile: server.cert,
      keyFile: server.key,
      trustedCaFile: dir.file('ca.crt', ca.cert),
      clientCertAuth: true,
    },
    CLIENT_FLAGS,
  );
  listener = await listenClient(
    '127.0.0.1',
    0,
    { route, limits: { maxConnections: 2, prefaceTimeoutMs: 300 } },
    httpServer,
    undefined,
    { source, onReject: (remote, reason) => rejected.push(`${remote} ${reason}`) },
  );
});

after(async () => {
  await listener.close();
  httpServer.close();
  rmSync(dir.dir, { recursive: true, force: true });
});

test('gRPC over h2 behind TLS: each call learns the remote address and the verified CN', async () => {
  const s = http2.connect(`https://127.0.0.1:${listener.port}`, { ca: ca.cert, ...client });
  try {
    const status = await new Promise<string>((resolve, reject) => {
      const req = s.request({
        ':method': 'POST',
        ':path': '/x.X/Y',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      req.on('trailers', (t) => resolve(String(t['grpc-status'])));
      req.on('error', reject);
      req.resume();
      req.end(Buffer.alloc(5));
    });
    assert.equal(status, '0');
    const info = seen.at(-1);
    assert.equal(info?.certCommonName, 'alice');
    assert.match(info?.remoteAddress ?? '', /^127\.0\.0\.1:\d+$/);
  } finally {
    s.close();
  }
});

test('an HTTP/1.1 client offering h2 and http/1.1 gets http/1.1 and the HTTP server', async () => {
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      `https://127.0.0.1:${listener.port}/health`,
      { ca: ca.cert, ...client, agent: false, ALPNProtocols: ['h2', 'http/1.1'] } as never,
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve(b));
      },
    );
    req.on('error', reject);
    req.end();
  });
  assert.equal(body, 'plain http GET /health');
});

/** A raw TCP connection that sends nothing; resolves with how long until the server closed it. */
function silent(): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = connect(listener.port, '127.0.0.1', () => {
      resolve({ socket, closed: new Promise((r) => socket.on('close', () => r(Date.now() - t0))) });
    });
    socket.on('error', () => {});
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

test('handshakes count among the connections and are bounded by the preface timeout', async () => {
  const a = await silent();
  const b = await silent();
  // A third connection while two handshakes are pending: closed at once.
  const c = await silent();
  const cMs = await c.closed;
  assert.ok(cMs < 250, `the connection over the limit was closed after ${cMs} ms`);
  // The silent ones are closed by the handshake timeout (300 ms), not held.
  const [aMs, bMs] = await Promise.all([a.closed, b.closed]);
  assert.ok(aMs >= 250 && aMs < 3000, `closed after ${aMs} ms`);
  assert.ok(bMs < 3000);
  assert.ok(
    rejected.some((r) => /handshake timed out/.test(r)),
    rejected.join('\n'),
  );
  // Their slots are free again: a TLS client is served.
  const s = http2.connect(`https://127.0.0.1:${listener.port}`, { ca: ca.cert, ...client });
  try {
    await new Promise<void>((resolve, reject) => {
      s.on('connect', () => resolve());
      s.on('error', reject);
    });
  } finally {
    s.close();
  }
});

test('--client-crl-file: a revoked client certificate is refused at the handshake, another is served', async () => {
  const revoked = await ca.issue('mallory', { serial: '7e57ab1e' });
  const srv = dir.write('crl-server', await ca.issue('server'));
  const crlFile = dir.file('ca.crl', await ca.crl(['7e57ab1e']));
  const source = new TlsSource(
    {
      certFile: srv.cert,
      keyFile: srv.key,
      trustedCaFile: dir.file('ca2.crt', ca.cert),
      clientCertAuth: true,
      crlFile,
    },
    CLIENT_FLAGS,
  );
  const reasons: string[] = [];
  const l = await listenClient('127.0.0.1', 0, { route }, httpServer, undefined, {
    source,
    onReject: (_r, why) => reasons.push(why),
  });
  try {
    const call = (creds: { cert: string; key: string }) =>
      new Promise<boolean>((resolve) => {
        const s = http2.connect(`https://127.0.0.1:${l.port}`, { ca: ca.cert, ...creds });
        s.on('error', () => resolve(false));
        const req = s.request({ ':method': 'POST', ':path': '/x.X/Y', 'content-type': 'application/grpc' });
        req.on('error', () => resolve(false));
        req.on('trailers', () => {
          s.close();
          resolve(true);
        });
        req.resume();
        req.end(Buffer.alloc(5));
        setTimeout(() => {
          s.destroy();
          resolve(false);
        }, 3000).unref();
      });
    assert.equal(await call(revoked), false, 'the revoked certificate was served');
    assert.equal(await call(client), true, 'the good certificate was refused');
    // OpenSSL ends the handshake; node reports it to the server as a reset: only the report is checked.
    assert.ok(reasons.length >= 1, 'the refusal was reported');
  } finally {
    await l.close();
  }
});

test('a client without a certificate is refused at the handshake, with Go words in the report', async () => {
  const s = http2.connect(`https://127.0.0.1:${listener.port}`, { ca: ca.cert });
  const err = await new Promise<Error | undefined>((resolve) => {
    s.on('error', (e) => resolve(e));
    s.on('connect', () => {
      const req = s.request({ ':path': '/x.X/Y', ':method': 'POST' });
      req.on('error', (e) => resolve(e));
      req.on('response', () => resolve(undefined));
      req.end();
    });
  });
  s.destroy();
  assert.ok(err !== undefined, 'refused');
  const deadline = Date.now() + 2000;
  while (!rejected.some((r) => /client didn't provide a certificate/.test(r)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(
    rejected.some((r) => /tls: client didn't provide a certificate/.test(r)),
    rejected.join('\n'),
  );
});
