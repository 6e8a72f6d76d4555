// Hostile request bodies against the JSON gateway: each is bounded and answered, and another client
// is served meanwhile. The gateway runs over a router with a stub KV and Watch service, so what is
// measured is the gateway's own reading and decoding.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createLogger } from '../src/pkg/logger.ts';
import { GrpcRouter, bidi, serverStream, unary } from '../src/api/grpc/router.ts';
import { createHttpServer } from '../src/api/http/http.ts';
import { createGateway } from '../src/api/gateway/gateway.ts';
import { httpCall } from './helpers/http_json.ts';

const MAX = 64 * 1024;
const BODY_TIMEOUT_MS = 1000;

/** Sends `head` then feeds the body with `feed`; resolves with what the server answered (or '' if it cut). */
function rawExchange(
  port: number,
  head: string,
  feed: (s: Socket, stop: () => boolean) => Promise<void>,
  deadlineMs: number,
): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, '127.0.0.1');
    let answer = '';
    let over = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${deadlineMs} ms (got ${JSON.stringify(answer.slice(0, 200))})`));
    }, deadlineMs);
    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      resolve({ answer, ms: Date.now() - t0 });
    };
    s.setEncoding('utf8');
    s.on('data', (d: string) => (answer += d));
    s.on('close', finish);
    s.on('error', () => {});
    s.on('connect', () => {
      s.write(head);
      void feed(s, () => over || s.destroyed);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the socket drains or closes (both listeners removed after). */
function drained(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

let watchesClosed = 0;
let snapshotChunks = 0;
let snapshotAborted = false;

describe('JSON gateway under hostile bodies', () => {
  let http: Server;
  let port: number;
  before(async () => {
    const log = createLogger('error');
    const router = new GrpcRouter({ maxReceiveBytes: MAX, log });
    router.service('etcdserverpb.KV', {
      Range: unary(() => ({ header: { revision: 7 }, count: 0 })),
      Txn: unary(() => ({ header: { revision: 7 }, succeeded: true })),
    });
    router.service('etcdserverpb.Watch', {
      Watch: bidi((out) => ({
        message: () => out.write({ created: true }),
        end() {},
        close() {
          watchesClosed++;
        },
      })),
    });
    // A snapshot that writes its next 64 KiB only once the last one reached the socket (as the Watch
    // stream paces itself on `done`), until its signal says the call is over.
    router.service('etcdserverpb.Maintenance', {
      Snapshot: serverStream(
        (_raw, ctx, out) =>
          new Promise<void>((resolve) => {
            const blob = Buffer.alloc(64 * 1024, 1);
            // `done` never runs once the call is gone (as with gRPC): the signal says it is over.
            ctx.signal.addEventListener('abort', () => {
              snapshotAborted = out.closed;
              resolve();
            });
            const next = () => {
              if (out.closed) return;
              snapshotChunks++;
              out.write({ blob }, next);
            };
            next();
          }),
      ),
    });
    http = createHttpServer(
      createGateway(router, { maxReceiveBytes: MAX, log, bodyTimeoutMs: BODY_TIMEOUT_MS }),
    );
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    port = (http.address() as AddressInfo).port;
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  });

  /** A well-behaved client's range, answered quickly. */
  async function probe(): Promise<number> {
    const t0 = Date.now();
    const a = await httpCall(port, '/v3/kv/range', '{"key":"YQ=="}', { timeoutMs: 2000 });
    assert.equal(a.status, 200, a.body);
    assert.equal(a.body, '{"header":{"revision":"7"}}');
    return Date.now() - t0;
  }

  test('a huge body is cut at the bound and answered 429; others are served meanwhile', async () => {
    const size = 64 * 1024 * 1024;
    let sent = 0;
    const attack = rawExchange(
      port,
      `POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`,
      async (s, stop) => {
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        while (!stop() && sent < size) {
          sent += chunk.length;
          if (!s.write(chunk)) await drained(s);
        }
      },
      10_000,
    );
    assert.ok((await probe()) < 1000);
    const { answer } = await attack;
    assert.match(answer, /^HTTP\/1.1 429 /);
    assert.match(answer, /"code":8/);
    // Reading stopped near the bound (2 x the receive limit + 64 KiB), not at the announced 64 MiB.
    assert.ok(sent < 16 * 1024 * 1024, `the client could send ${sent} bytes`);
  });

  test('a slowloris body is answered 408 after the body timeout; others are served meanwhile', async () => {
    const attack = rawExchange(
      port,
      `POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{`,
      async (s, stop) => {
        while (!stop()) {
          s.write(' ');
          await sleep(100);
        }
      },
      BODY_TIMEOUT_MS + 5000,
    );
    await sleep(200);
    assert.ok((await probe()) < 1000);
    const { answer, ms } = await attack;
    assert.match(answer, /^HTTP\/1.1 408 /);
    assert.match(answer, /"code":1/);
    assert.ok(ms >= BODY_TIMEOUT_MS && ms < BODY_TIMEOUT_MS + 3000, `answered after ${ms} ms`);
  });

  test("deeply nested JSON is refused with Go's error, without a crash", async () => {
    const deep = await httpCall(port, '/v3/kv/range', '['.repeat(150_000), { timeoutMs: 5000 });
    assert.equal(deep.status, 400);
    assert.equal(
      deep.body,
      `{"error":"invalid character '[' exceeded max depth","message":"invalid character '[' exceeded max depth","code":3}`,
    );
    // 10,000 levels are valid JSON (an unknown field, ignored); a Txn nested in Txns thousands deep
    // is answered too, whatever the handler says.
    const ok = `{"key":"YQ==","x":${'['.repeat(9_999)}${']'.repeat(9_999)}}`;
    assert.equal((await httpCall(port, '/v3/kv/range', ok)).status, 200);
    let txn = '{}';
    for (let i = 0; i < 3000; i++) txn = `{"success":[{"request_txn":${txn}}]}`;
    const nested = await httpCall(port, '/v3/kv/txn', txn, { timeoutMs: 5000 });
    assert.ok(
      nested.status === 200 || nested.status === 400,
      `${nested.status} ${nested.body.slice(0, 200)}`,
    );
    await probe();
  });

  test('a stream body whose one value never ends is cut at the bound', async () => {
    let sent = 0;
    const attack = rawExchange(
      port,
      `POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`,
      async (s, stop) => {
        const piece = '{"create_request":{"key":"' + 'A'.repeat(60_000);
        s.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
        const chunk = 'A'.repeat(64 * 1024);
        while (!stop() && sent < 64 * 1024 * 1024) {
          sent += chunk.length;
          if (!s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`)) await drained(s);
        }
      },
      10_000,
    );
    assert.ok((await probe()) < 1000);
    const { answer } = await attack;
    assert.match(answer, /^HTTP\/1.1 429 /);
    assert.ok(sent < 16 * 1024 * 1024, `the client could send ${sent} bytes`);
  });

  test('a stream reads one request per JSON value as they arrive; a bad first value is a 500', async () => {
    const a = await httpCall(port, '/v3/watch', '{"create_request":{}} {"create_request":{}}', {
      until: (b) => b.split('\n').length > 2,
    });
    assert.equal(a.status, 200);
    assert.equal(a.body, '{"result":{"created":true}}\n{"result":{"created":true}}\n');
    const bad = await httpCall(port, '/v3/watch', '{"create_request":{"key":5}}');
    assert.equal(bad.status, 500);
    assert.match(bad.body, /cannot unmarshal number into Go value of type \[\]uint8","code":2/);
  });

  test('a stream stops at the socket when its client does not read, and ends when the client goes', async () => {
    const s = connect(port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write('POST /v3/maintenance/snapshot HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}');
    s.pause();
    await sleep(1000);
    const written = snapshotChunks;
    assert.ok(written > 0, 'the stream started');
    // Base64 makes each 64 KiB chunk ~87 KiB of JSON: what waits is the sockets' buffers, not more.
    assert.ok(
      written * 87 * 1024 < 32 * 1024 * 1024,
      `${written} chunks written to a client that reads nothing`,
    );
    await sleep(300);
    assert.ok(snapshotChunks - written <= 2, 'no more writes while the client reads nothing');
    s.destroy();
    const until = Date.now() + 2000;
    while (!snapshotAborted && Date.now() < until) await sleep(20);
    assert.ok(snapshotAborted, 'the handler saw the call end (its signal aborted, the out closed)');

    const w = connect(port, '127.0.0.1');
    await new Promise((r) => w.once('connect', r));
    w.write('POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n');
    await new Promise((r) => w.once('data', r));
    const before = watchesClosed;
    w.destroy();
    const until2 = Date.now() + 2000;
    while (watchesClosed === before && Date.now() < until2) await sleep(20);
    assert.equal(watchesClosed, before + 1, 'the watch handler was closed when its client went');
  });
});
