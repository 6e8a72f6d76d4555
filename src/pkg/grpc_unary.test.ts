// grpcUnary against a plain node:http2 server speaking gRPC's framing: the answer, a status in the
// trailers, and a timeout when no answer comes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type ClientHttp2Session, type Http2Server } from 'node:http2';
import { grpcUnary, UnaryTimeoutError } from './grpc_unary.ts';

let server: Http2Server;
let session: ClientHttp2Session;

before(async () => {
  server = createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const path = String(headers[':path']);
      if (path === '/svc/Silent') return; // never answers
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () =>
        stream.sendTrailers(
          path === '/svc/Fail'
            ? { 'grpc-status': '5', 'grpc-message': encodeURIComponent('etcdserver: member not found') }
            : { 'grpc-status': '0' },
        ),
      );
      if (path === '/svc/Echo')
        stream.end(Buffer.concat(chunks)); // the request frame is a valid response frame
      else stream.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  session = connect(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
});

after(async () => {
  session.destroy();
  await new Promise((r) => server.close(r));
});

test('the first response message comes back with status 0', async () => {
  const r = await grpcUnary(session, '/svc/Echo', Uint8Array.of(1, 2, 3));
  assert.equal(r.code, 0);
  assert.deepEqual([...r.payload!], [1, 2, 3]);
});

test('a status in the trailers is decoded; no message means no payload', async () => {
  const r = await grpcUnary(session, '/svc/Fail', Uint8Array.of(9));
  assert.equal(r.code, 5);
  assert.equal(r.message, 'etcdserver: member not found');
  assert.equal(r.payload, undefined);
});

test('no answer within the timeout rejects with UnaryTimeoutError', async () => {
  await assert.rejects(grpcUnary(session, '/svc/Silent', Uint8Array.of(0), 100), UnaryTimeoutError);
});
