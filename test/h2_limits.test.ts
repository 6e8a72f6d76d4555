// The HTTP/2 front's protections, one attack each, at the frame level: the attack is sent with a raw
// client, the reaction is checked on the wire, and then a probe client that opened its connection
// before the attack must still be answered within 100 ms, and the process's RSS must have grown by
// less than RSS_BOUND. Every listener here is the real one (listener.ts), with local routes:
//   /l.Echo  the request message back      /l.Big  n bytes (n the message)      /l.Hold  never answers
//   /l.Now   answers at its first DATA, before the client ends the stream (a unary call's message in)
//   /l.BigLater  n bytes, answered on the next turn (after more streams were taken)
//   /l.Spin  answered after 2 ms of CPU, at once (a call whose work runs as the request arrives)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { listenClient, type ClientListener } from '../src/api/http/listener.ts';
import {
  CLOSED_KEPT,
  DEFAULT_LIMITS,
  EMPTY_FRAMES,
  H2_ENHANCE_YOUR_CALM,
  H2_FLOW_CONTROL_ERROR,
  H2_FRAME_SIZE_ERROR,
  H2_NO_ERROR,
  H2_REFUSED_STREAM,
  HEADER_BLOCK_FACTOR,
  MAX_PING_STRIKES,
  MAX_QUEUED_CONTROL,
  MAX_STREAMS_PER_TURN,
  PREFACE,
  RESETS,
  SETTINGS_FRAMES,
  STREAM_WINDOW,
  type H2LimitOptions,
  type LocalCall,
  type RequestHead,
  type StreamSink,
} from '../src/api/http/h2_server.ts';
import { encodeField, writeInt, writeString } from '../src/api/http/hpack.ts';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  GOAWAY,
  HEADERS,
  INITIAL_WINDOW_SIZE,
  MAX_FRAME_SIZE,
  PING,
  SETTINGS,
  RawClient,
  assertOk,
  frame,
  grpcMessage,
  request,
  requestBlock,
  rstStream,
  settings,
  windowUpdate,
} from './helpers/h2_raw_client.ts';

const MiB = 1 << 20;
/** How much the process may grow during one attack (server and attacker share it here). */
const RSS_BOUND = 150 * MiB;
/** The bound: another client is served within this while the attack runs. */
const PROBE_MS = 100;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;
const ENABLE_PUSH = 0x2;

// ---- the server under test

/** A local call that gathers the request body and answers from it once the client half-closes. */
function collecting(onEnd: (body: Buffer) => void): LocalCall {
  const parts: Buffer[] = [];
  return {
    data: (c) => void parts.push(Buffer.from(c)),
    end: () => onEnd(Buffer.concat(parts)),
    cancel: () => {},
  };
}

function route(head: RequestHead, sink: StreamSink): LocalCall {
  if (head.path === '/l.Echo') return collecting((b) => sink.reply(b.subarray(5)));
  if (head.path === '/l.Big') return collecting((b) => sink.reply(Buffer.alloc(Number(b.subarray(5)), 0x62)));
  if (head.path === '/l.BigLater') {
    return collecting((b) => setImmediate(() => sink.reply(Buffer.alloc(Number(b.subarray(5)), 0x62))));
  }
  if (head.path === '/l.Spin') {
    return collecting(() => {
      const until = performance.now() + 2;
      while (performance.now() < until);
      sink.reply(Buffer.from('spun'));
    });
  }
  if (head.path === '/l.Now') return { data: () => sink.reply(Buffer.from('now')), end() {}, cancel() {} };
  return collecting(() => {});
}

const listeners: ClientListener[] = [];

/** A listener with `limits` (the tests' PING barriers need a keepalive minimum of 0 unless given). */
async function serve(limits: H2LimitOptions = {}): Promise<ClientListener> {
  const l = await listenClient(
    '127.0.0.1',
    0,
    { route, limits: { ...limits, keepalive: { minTimeMs: 0, ...limits.keepalive } } },
    createHttpServer(),
  );
  listeners.push(l);
  return l;
}

let main: ClientListener;
before(async () => {
  main = await serve();
});
after(async () => {
  await Promise.all(listeners.map((l) => l.close()));
});

// ---- the checks every attack gets

interface Probe {
  c: RawClient;
  next: number;
}

/** A client connected before the attack, to be served during it. */
async function probe(port: number): Promise<Probe> {
  const c = await RawClient.open(port);
  return { c, next: 1 };
}

/** One call on the probe's connection: answered, and within PROBE_MS. */
async function probeServed(p: Probe, what: string): Promise<void> {
  const id = p.next;
  p.next += 2;
  const t = performance.now();
  p.c.send(request(id, '/l.Echo', 'probe'));
  assertOk(await p.c.complete(id), 'probe');
  const ms = performance.now() - t;
  assert.ok(ms < PROBE_MS, `${what}: the probe was answered in ${ms.toFixed(1)} ms`);
}

/** Runs `attack` between a probe before and after it, and bounds the RSS growth. */
async function withProbe(port: number, what: string, attack: (p: Probe) => Promise<void>): Promise<void> {
  const p = await probe(port);
  const rss = process.memoryUsage().rss;
  try {
    await attack(p);
    await probeServed(p, what);
    const grew = process.memoryUsage().rss - rss;
    assert.ok(grew < RSS_BOUND, `${what}: RSS grew by ${(grew / MiB).toFixed(0)} MiB`);
    // A fresh connection is served too.
    const fresh = await RawClient.open(port);
    fresh.send(request(1, '/l.Echo', 'fresh'));
    assertOk(await fresh.complete(1), 'fresh');
    fresh.close();
  } finally {
    p.c.close();
  }
}

/** The GOAWAY the server sent: its code and debug data. */
async function goAwayOf(c: RawClient): Promise<{ code: number; debug: string; last: number }> {
  const f = await c.until(() => c.find((x) => x.type === GOAWAY), 'GOAWAY');
  return {
    last: f.payload.readUInt32BE(0),
    code: f.payload.readUInt32BE(4),
    debug: f.payload.subarray(8).toString(),
  };
}

const rstOf = (c: RawClient, id: number) => c.answer(id).rst;

// ---- SETTINGS_MAX_CONCURRENT_STREAMS

test('max concurrent streams: announced in SETTINGS; a stream past it is refused (REFUSED_STREAM), the connection lives', async () => {
  const l = await serve({ maxConcurrentStreams: 2 });
  await withProbe(l.port, 'max concurrent streams', async () => {
    const c = await RawClient.open(l.port);
    try {
      const s = c.find((f) => f.type === SETTINGS && f.flags === 0)!;
      const announced = new Map<number, number>();
      for (let i = 0; i < s.payload.length; i += 6)
        announced.set(s.payload.readUInt16BE(i), s.payload.readUInt32BE(i + 2));
      assert.equal(announced.get(SETTINGS_MAX_CONCURRENT_STREAMS), 2);
      c.send(request(1, '/l.Hold', 'a'), request(3, '/l.Hold', 'b'), request(5, '/l.Echo', 'c'));
      assert.equal((await c.complete(5)).rst, H2_REFUSED_STREAM);
      // One stream ends: a new one is taken.
      c.send(rstStream(1, 8), request(7, '/l.Echo', 'd'));
      assertOk(await c.complete(7), 'd');
    } finally {
      c.close();
    }
  });
  // etcd's default: math.MaxUint32, announced as such.
  assert.equal(DEFAULT_LIMITS.maxConcurrentStreams, 2 ** 32 - 1);
});

// ---- the header list limit and HPACK

/** A literal header field with incremental indexing, new name (RFC 7541 6.2.1). */
function indexed(name: string, value: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x40]),
    writeString(Buffer.from(name)),
    writeString(Buffer.from(value)),
  ]);
}

test('header list size: announced; a block past it is refused (RST_STREAM FRAME_SIZE_ERROR as grpc-go), the table stays in step, the connection lives', async () => {
  const max = DEFAULT_LIMITS.maxHeaderListSize;
  await withProbe(main.port, 'header list', async () => {
    const c = await RawClient.open(main.port);
    try {
      const s = c.find((f) => f.type === SETTINGS && f.flags === 0)!;
      let announced: number | undefined;
      for (let i = 0; i < s.payload.length; i += 6)
        if (s.payload.readUInt16BE(i) === SETTINGS_MAX_HEADER_LIST_SIZE)
          announced = s.payload.readUInt32BE(i + 2);
      assert.equal(announced, max);
      // One field just past the limit, indexed: refused, but the table must still get it.
      const big = indexed('x-big', 'v'.repeat(max));
      c.send(
        headerFrames(1, Buffer.concat([requestBlock('/l.Echo'), big])),
        frame(DATA, END_STREAM, 1, grpcMessage('no')),
      );
      assert.equal((await c.complete(1)).rst, H2_FRAME_SIZE_ERROR);
      // Stream 3 names the entry by index 62 (a decoder out of step would fail the connection).
      const small = indexed('x-small', 'w');
      c.send(frame(HEADERS, END_HEADERS, 3, Buffer.concat([requestBlock('/l.Echo'), small])));
      c.send(frame(DATA, END_STREAM, 3, grpcMessage('yes')));
      assertOk(await c.complete(3), 'yes');
      c.send(
        frame(HEADERS, END_HEADERS, 5, Buffer.concat([requestBlock('/l.Echo'), writeInt(62, 7, 0x80)])),
        frame(DATA, END_STREAM, 5, grpcMessage('indexed')),
      );
      assertOk(await c.complete(5), 'indexed');
    } finally {
      c.close();
    }
  });
});

test('HPACK bomb: 64 KiB of one-byte references to a 3.9 KB entry is refused stream by stream, fast; the connection lives', async () => {
  await withProbe(main.port, 'HPACK bomb', async (p) => {
    const c = await RawClient.open(main.port);
    try {
      c.send(
        frame(
          HEADERS,
          END_HEADERS,
          1,
          Buffer.concat([requestBlock('/l.Echo'), indexed('x-bomb', 'b'.repeat(3900))]),
        ),
        frame(DATA, END_STREAM, 1, grpcMessage('table')),
      );
      assertOk(await c.complete(1), 'table');
      // Each block: ~250 MB of header list if it were materialised.
      const refs = Buffer.alloc(64 * 1024, 0x80 | 62);
      const t = performance.now();
      for (let id = 3; id < 3 + 2 * 50; id += 2) {
        const block = Buffer.concat([requestBlock('/l.Echo'), refs]);
        const parts = [frame(HEADERS, 0, id, block.subarray(0, 16_000))];
        for (let at = 16_000; at < block.length; at += 16_000) {
          const last = at + 16_000 >= block.length;
          parts.push(frame(CONTINUATION, last ? END_HEADERS : 0, id, block.subarray(at, at + 16_000)));
        }
        c.send(...parts, frame(DATA, END_STREAM, id, grpcMessage('bomb')));
      }
      assert.equal((await c.complete(101)).rst, H2_FRAME_SIZE_ERROR);
      const ms = performance.now() - t;
      for (let id = 3; id <= 101; id += 2) assert.equal(rstOf(c, id), H2_FRAME_SIZE_ERROR, `stream ${id}`);
      assert.ok(ms < 1000, `50 bombs took ${ms.toFixed(0)} ms`);
      await probeServed(p, 'after the bombs');
      c.send(request(103, '/l.Echo', 'after'));
      assertOk(await c.complete(103), 'after');
    } finally {
      c.close();
    }
  });
});

// ---- floods answered with GOAWAY ENHANCE_YOUR_CALM

/** Sends `bytes` on a fresh connection and expects GOAWAY ENHANCE_YOUR_CALM. */
async function expectCalm(port: number, what: string, ...bytes: Buffer[]): Promise<string> {
  const c = await RawClient.open(port);
  try {
    c.send(...bytes);
    const g = await goAwayOf(c);
    assert.equal(g.code, H2_ENHANCE_YOUR_CALM, `${what}: GOAWAY ${g.code} ${g.debug}`);
    return g.debug;
  } finally {
    c.close();
  }
}

const times = (n: number, b: Buffer) => Buffer.concat(Array.from({ length: n }, () => b));

/** A header block as HEADERS and CONTINUATION frames of at most 16,384 bytes. */
function headerFrames(id: number, block: Buffer, flags = 0): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < block.length || at === 0; at += 16_384) {
    const last = at + 16_384 >= block.length;
    const piece = block.subarray(at, at + 16_384);
    if (at === 0) parts.push(frame(HEADERS, flags | (last ? END_HEADERS : 0), id, piece));
    else parts.push(frame(CONTINUATION, last ? END_HEADERS : 0, id, piece));
  }
  return Buffer.concat(parts);
}

test('CONTINUATION flood: empty CONTINUATIONs after a HEADERS that never ends are a flood; so is a block past its size bound', async () => {
  await withProbe(main.port, 'CONTINUATION flood', async () => {
    const empties = times(EMPTY_FRAMES.burst + 10, frame(CONTINUATION, 0, 1));
    const head = frame(HEADERS, END_STREAM, 1, requestBlock('/l.Echo'));
    assert.match(await expectCalm(main.port, 'empty CONTINUATIONs', head, empties), /header block/);
    // Non-empty fragments: the block's bytes (frame headers counted) are bounded.
    const bound = HEADER_BLOCK_FACTOR * DEFAULT_LIMITS.maxHeaderListSize;
    const n = Math.ceil(bound / (9 + 1)) + 1;
    const ones = times(n, frame(CONTINUATION, 0, 1, Buffer.from([0x80 | 2])));
    assert.match(await expectCalm(main.port, 'tiny CONTINUATIONs', head, ones), /header block/);
  });
});

test('empty DATA flood: DATA frames without payload or END_STREAM are a flood', async () => {
  await withProbe(main.port, 'empty DATA flood', async () => {
    const open = frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Hold'));
    const debug = await expectCalm(
      main.port,
      'empty DATA',
      open,
      times(EMPTY_FRAMES.burst + 10, frame(DATA, 0, 1)),
    );
    assert.match(debug, /empty frames/);
  });
});

test('SETTINGS flood is answered with GOAWAY ENHANCE_YOUR_CALM; a SETTINGS frame costs nothing per open stream', async () => {
  const l = await serve();
  await withProbe(l.port, 'SETTINGS flood', async () => {
    const c = await RawClient.open(l.port);
    try {
      // 5,000 idle streams, then SETTINGS changing the initial window: no stream has anything to
      // send, so none is visited.
      const opens: Buffer[] = [];
      for (let id = 1; id < 10_000; id += 2)
        opens.push(frame(HEADERS, END_HEADERS, id, requestBlock('/l.Hold')));
      c.send(...opens);
      await c.barrier();
      const t = performance.now();
      const n = SETTINGS_FRAMES.burst - 5;
      for (let i = 0; i < n; i++) c.send(settings([[INITIAL_WINDOW_SIZE, 65_535 + (i % 2) * 1_000_000]]));
      await c.barrier();
      const ms = performance.now() - t;
      assert.ok(ms < 200, `${n} SETTINGS with 5,000 open streams took ${ms.toFixed(0)} ms`);
      assert.equal(
        c.find((f) => f.type === GOAWAY),
        undefined,
        'within the budget',
      );
      // Past the budget: a flood.
      c.send(times(20, settings([[ENABLE_PUSH, 0]])));
      const g = await goAwayOf(c);
      assert.equal(g.code, H2_ENHANCE_YOUR_CALM);
      assert.match(g.debug, /SETTINGS/);
    } finally {
      c.close();
    }
  });
});

test('a larger SETTINGS_INITIAL_WINDOW_SIZE sends what streams blocked on their own window hold', async () => {
  const c = await RawClient.open(main.port, [[INITIAL_WINDOW_SIZE, 0]]);
  try {
    c.send(request(1, '/l.Big', '1000'), request(3, '/l.Big', '2000'));
    await c.barrier();
    assert.equal(c.answer(1).data.length + c.answer(3).data.length, 0, 'no window, no data');
    c.send(settings([[INITIAL_WINDOW_SIZE, 100_000]]));
    assertOk(await c.complete(1), Buffer.alloc(1000, 0x62));
    assertOk(await c.complete(3), Buffer.alloc(2000, 0x62));
  } finally {
    c.close();
  }
});

test('rapid reset: resets of running calls past their budget end the connection with ENHANCE_YOUR_CALM', async () => {
  await withProbe(main.port, 'rapid reset', async () => {
    const c = await RawClient.open(main.port);
    try {
      const parts: Buffer[] = [];
      for (let i = 0; i < RESETS.burst + 20; i++) {
        const id = 2 * i + 1;
        parts.push(frame(HEADERS, END_HEADERS, id, requestBlock('/l.Hold')), rstStream(id, 8));
      }
      c.send(...parts);
      const g = await goAwayOf(c);
      assert.equal(g.code, H2_ENHANCE_YOUR_CALM);
      assert.match(g.debug, /resets/);
    } finally {
      c.close();
    }
  });
});

test('PING: ACKed; past grpc-go keepalive policy (3 strikes under --grpc-keepalive-min-time) GOAWAY ENHANCE_YOUR_CALM "too_many_pings"', async () => {
  // etcd's 5 s minimum.
  const l = await serve({ keepalive: { minTimeMs: 5000 } });
  await withProbe(l.port, 'PING flood', async () => {
    const c = await RawClient.open(l.port);
    try {
      c.send(frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Hold')));
      const ping = (i: number) => frame(PING, 0, 0, Buffer.from(`ping${i}`.padEnd(8, '.')));
      // The first ping is free; the next MAX_PING_STRIKES are strikes but tolerated.
      for (let i = 0; i <= MAX_PING_STRIKES; i++) c.send(ping(i));
      await c.until(
        () => (c.frames.filter((f) => f.type === PING).length === MAX_PING_STRIKES + 1 ? true : undefined),
        'the ACKs',
      );
      assert.equal(
        c.find((f) => f.type === GOAWAY),
        undefined,
      );
      c.send(ping(9));
      const g = await goAwayOf(c);
      assert.equal(g.code, H2_ENHANCE_YOUR_CALM);
      assert.equal(g.debug, 'too_many_pings');
    } finally {
      c.close();
    }
  });
});

test('PING: HEADERS or DATA sent between pings clear the strikes (a client pinging after each answer is fine)', async () => {
  const l = await serve({ keepalive: { minTimeMs: 5000 } });
  const c = await RawClient.open(l.port);
  try {
    for (let i = 0; i < 10; i++) {
      const id = 2 * i + 1;
      c.send(request(id, '/l.Echo', `m${i}`));
      assertOk(await c.complete(id), `m${i}`);
      await c.barrier();
    }
    assert.equal(
      c.find((f) => f.type === GOAWAY),
      undefined,
    );
  } finally {
    c.close();
  }
});

test('PING without streams: closer than 2 hours is a strike whatever --grpc-keepalive-min-time (PermitWithoutStream false)', async () => {
  const l = await serve({ keepalive: { minTimeMs: 0 } });
  const c = await RawClient.open(l.port);
  try {
    for (let i = 0; i <= MAX_PING_STRIKES + 1; i++) c.send(frame(PING, 0, 0, Buffer.alloc(8, i)));
    const g = await goAwayOf(c);
    assert.equal(g.code, H2_ENHANCE_YOUR_CALM);
    assert.equal(g.debug, 'too_many_pings');
  } finally {
    c.close();
  }
});

test('frames owed to a client that does not read: past MAX_QUEUED_CONTROL waiting, GOAWAY ENHANCE_YOUR_CALM', async () => {
  await withProbe(main.port, 'control frames unread', async () => {
    // A big answer fills the socket (the client does not read), then a PING flood.
    const c = await RawClient.open(main.port, [
      [INITIAL_WINDOW_SIZE, 2 ** 31 - 1],
      [MAX_FRAME_SIZE, 2 ** 24 - 1],
    ]);
    try {
      c.send(windowUpdate(0, 2 ** 31 - 1 - 65_535), request(1, '/l.Big', String(30 * MiB)));
      await c.until(() => (c.answer(1).data.length > 0 ? true : undefined), 'the answer starting');
      c.sock.pause();
      await new Promise((r) => setTimeout(r, 100));
      c.send(times(MAX_QUEUED_CONTROL + 100, frame(PING, 0, 0, Buffer.alloc(8))));
      await new Promise((r) => setTimeout(r, 100));
      c.sock.resume();
      const g = await goAwayOf(c);
      assert.equal(g.code, H2_ENHANCE_YOUR_CALM);
      assert.match(g.debug, /waiting for the client to read/);
    } finally {
      c.close();
    }
  });
});

// ---- what a client that does not read can make us hold

test('queued bytes: a client that does not read gets its answers dropped (UNAVAILABLE) past the connection budget, and new streams refused', async () => {
  const budget = 8 * MiB;
  const l = await serve({ maxConnectionBytes: budget });
  await withProbe(l.port, 'pipelined big answers, no read', async () => {
    // Windows wide open: nothing but the budget holds the answers back.
    const c = await RawClient.open(l.port, [
      [INITIAL_WINDOW_SIZE, 2 ** 31 - 1],
      [MAX_FRAME_SIZE, 2 ** 24 - 1],
    ]);
    try {
      c.send(windowUpdate(0, 2 ** 31 - 1 - 65_535));
      c.sock.pause();
      // All taken at once; their answers come a turn later.
      const n = 400;
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) parts.push(request(2 * i + 1, '/l.BigLater', String(MiB)));
      c.send(...parts);
      await new Promise((r) => setTimeout(r, 300));
      c.sock.resume();
      const all = () => {
        for (let id = 1; id < 2 * n; id += 2) if (!c.ended(id)) return undefined;
        return true;
      };
      await c.until(all, 'every stream answered or refused', 20_000);
      let ok = 0;
      let unavailable = 0;
      let refused = 0;
      for (let id = 1; id < 2 * n; id += 2) {
        const a = c.answer(id);
        const status = a.heads.at(-1)?.['grpc-status'];
        if (a.rst === H2_REFUSED_STREAM) refused++;
        else if (status === '14') unavailable++;
        else if (status === '0') ok++;
      }
      // The budget's worth, plus what the kernel's socket buffers took before the socket backed up.
      assert.ok(ok >= 1 && ok <= budget / MiB + 8, `${ok} answered`);
      // Taken in the first turn (MAX_STREAMS_PER_TURN) and answered too late: UNAVAILABLE; taken
      // later, while over budget: refused.
      assert.equal(
        ok + unavailable + refused,
        n,
        `${ok} answered, ${unavailable} UNAVAILABLE, ${refused} refused`,
      );
      assert.ok(unavailable > 0 && refused > 0, `${unavailable} UNAVAILABLE, ${refused} refused`);
    } finally {
      c.close();
    }
  });
});

test('queued bytes: answers waiting for the client to grant window do not stop reading: its WINDOW_UPDATE gets them out and new streams are taken again', async () => {
  const l = await serve({ maxConnectionBytes: 4 * MiB });
  const c = await RawClient.open(l.port, [[INITIAL_WINDOW_SIZE, 0]]);
  try {
    // Two answers of 3 MiB wait for window: over budget, the third stream is refused...
    c.send(request(1, '/l.Big', String(3 * MiB)), request(3, '/l.Big', String(3 * MiB)));
    c.send(request(5, '/l.Echo', 'refused'));
    assert.equal((await c.complete(5)).rst, H2_REFUSED_STREAM);
    // ...yet the client's WINDOW_UPDATEs are read: the answers go out, and new streams are taken.
    c.send(windowUpdate(0, 64 * MiB), windowUpdate(1, 4 * MiB), windowUpdate(3, 4 * MiB));
    assertOk(await c.complete(1), Buffer.alloc(3 * MiB, 0x62));
    assertOk(await c.complete(3), Buffer.alloc(3 * MiB, 0x62));
    c.send(request(7, '/l.Echo', 'taken'), windowUpdate(7, 1000));
    assertOk(await c.complete(7), 'taken');
  } finally {
    c.close();
  }
});

test('endless DATA after a call is answered: past the window the stream had, GOAWAY FLOW_CONTROL_ERROR', async () => {
  await withProbe(main.port, 'endless DATA', async () => {
    const c = await RawClient.open(main.port);
    try {
      // Answered at its message, the client's side still open: RST_STREAM NO_ERROR follows.
      const first = grpcMessage('m');
      c.send(frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Now')), frame(DATA, 0, 1, first));
      assert.equal((await c.complete(1)).heads.at(-1)!['grpc-status'], '0');
      await c.until(() => (rstOf(c, 1) === H2_NO_ERROR ? true : undefined), 'RST_STREAM NO_ERROR');
      // What the stream's window still allowed (the client may not know yet) is dropped quietly...
      const left = STREAM_WINDOW - first.length;
      const chunk = frame(DATA, 0, 1, Buffer.alloc(16_384));
      const n = Math.floor(left / 16_384);
      c.send(times(n, chunk));
      await c.barrier();
      assert.equal(
        c.find((f) => f.type === GOAWAY),
        undefined,
        'within the window',
      );
      // ...more is a flow-control violation.
      c.send(frame(DATA, 0, 1, Buffer.alloc(left - n * 16_384 + 1)));
      assert.equal((await goAwayOf(c)).code, H2_FLOW_CONTROL_ERROR);
    } finally {
      c.close();
    }
  });
});

test('DATA the client had already sent on a stream we refused is dropped; the connection lives', async () => {
  const c = await RawClient.open(main.port);
  try {
    // A malformed request (no :path) is refused; its DATA was on its way.
    c.send(
      frame(HEADERS, END_HEADERS, 1, encodeField(':method', 'POST')),
      frame(DATA, 0, 1, Buffer.alloc(1000)),
    );
    assert.equal((await c.complete(1)).rst, 1, 'PROTOCOL_ERROR: no :path');
    c.send(frame(DATA, 0, 1, Buffer.alloc(1000)), request(3, '/l.Echo', 'fine'));
    assertOk(await c.complete(3), 'fine');
    assert.equal(
      c.find((f) => f.type === GOAWAY),
      undefined,
    );
    assert.ok(CLOSED_KEPT >= 100);
  } finally {
    c.close();
  }
});

test('a burst of calls larger than one turn takes is served whole, in order', async () => {
  const c = await RawClient.open(main.port);
  try {
    const n = 5 * MAX_STREAMS_PER_TURN + 7;
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) parts.push(request(2 * i + 1, '/l.Echo', `b${i}`));
    c.send(...parts);
    for (let i = 0; i < n; i++) assertOk(await c.complete(2 * i + 1), `b${i}`);
  } finally {
    c.close();
  }
});

test('a connection whose calls cost CPU as they arrive yields the turn (TURN_SLICE_MS): another client is served meanwhile', async () => {
  await withProbe(main.port, 'CPU-heavy pipelined calls', async (p) => {
    const c = await RawClient.open(main.port);
    try {
      // 300 calls of 2 ms each, in one write: 600 ms of work.
      const parts: Buffer[] = [];
      for (let i = 0; i < 300; i++) parts.push(request(2 * i + 1, '/l.Spin', ''));
      c.send(...parts);
      await c.until(() => (c.ended(21) ? true : undefined), 'the first calls');
      await probeServed(p, 'while the heavy calls run');
      assert.ok(!c.ended(599), 'the heavy calls were still running');
      await c.until(() => (c.ended(599) ? true : undefined), 'every call', 10_000);
      for (let id = 1; id < 600; id += 2) assertOk(c.answer(id), 'spun');
    } finally {
      c.close();
    }
  });
});

// ---- timeouts, keepalive, GOAWAY from the client, the connection bound

/** A raw socket that sends `first` (if any) and resolves when the server closes it (ms after open). */
function closedAfter(port: number, first?: Buffer): Promise<number> {
  const s: Socket = connect(port, '127.0.0.1');
  const t = performance.now();
  s.on('error', () => {});
  s.on('data', () => {});
  if (first) s.write(first);
  return new Promise((r) => s.on('close', () => r(performance.now() - t)));
}

test('preface timeout: nothing, half a preface, or a preface without SETTINGS is closed after the timeout', async () => {
  const l = await serve({ prefaceTimeoutMs: 200 });
  await withProbe(l.port, 'preface timeout', async () => {
    const [none, half, noSettings] = await Promise.all([
      closedAfter(l.port),
      closedAfter(l.port, PREFACE.subarray(0, 10)),
      closedAfter(l.port, PREFACE),
    ]);
    for (const ms of [none, half, noSettings]) assert.ok(ms >= 150 && ms < 1000, `closed after ${ms} ms`);
  });
  assert.equal(DEFAULT_LIMITS.prefaceTimeoutMs, 5000);
});

test('idle timeout: a connection without streams gets GOAWAY NO_ERROR and is closed; one with a stream is not', async () => {
  const l = await serve({ idleTimeoutMs: 150 });
  const idle = await RawClient.open(l.port);
  const busy = await RawClient.open(l.port);
  try {
    busy.send(frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Hold')));
    const g = await goAwayOf(idle);
    assert.equal(g.code, H2_NO_ERROR);
    await idle.waitClosed(1000);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(busy.closed, false);
    assert.equal(
      busy.find((f) => f.type === GOAWAY),
      undefined,
    );
  } finally {
    idle.close();
    busy.close();
  }
});

test('keepalive: a silent connection gets a PING after --grpc-keepalive-interval; unanswered for --grpc-keepalive-timeout, it is closed', async () => {
  const l = await serve({ keepalive: { intervalMs: 100, timeoutMs: 150 } });
  const answering = await RawClient.open(l.port);
  const silent = await RawClient.open(l.port);
  try {
    // The answering client ACKs every PING it gets (any read counts as life).
    let acked = 0;
    const ack = setInterval(() => {
      const pings = answering.frames.filter((f) => f.type === PING && f.flags === 0);
      for (; acked < pings.length; acked++) answering.send(frame(PING, 1, 0, pings[acked]!.payload));
    }, 20);
    silent.sock.on('data', () => {});
    const ping = await silent.until(
      () => silent.find((f) => f.type === PING && f.flags === 0),
      'server PING',
    );
    assert.equal(ping.payload.length, 8);
    await silent.waitClosed(2000);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(ack);
    assert.equal(answering.closed, false, 'a client that answers stays');
    assert.ok(acked >= 1);
  } finally {
    answering.close();
    silent.close();
  }
});

test('GOAWAY from the client: NO_ERROR lets running calls finish, refuses new ones, then the socket ends; an error code closes at once', async () => {
  const c = await RawClient.open(main.port);
  try {
    c.send(frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Echo')));
    const p = Buffer.alloc(8);
    c.send(frame(GOAWAY, 0, 0, p), request(3, '/l.Echo', 'late'));
    assert.equal((await c.complete(3)).rst, H2_REFUSED_STREAM);
    assert.equal(c.closed, false);
    c.send(frame(DATA, END_STREAM, 1, grpcMessage('last')));
    assertOk(await c.complete(1), 'last');
    await c.waitClosed();
  } finally {
    c.close();
  }
  const e = await RawClient.open(main.port);
  try {
    const p = Buffer.alloc(8);
    p.writeUInt32BE(2, 4); // INTERNAL_ERROR
    e.send(frame(HEADERS, END_HEADERS, 1, requestBlock('/l.Hold')), frame(GOAWAY, 0, 0, p));
    await e.waitClosed();
  } finally {
    e.close();
  }
});

test('connection bound: connections past --max-client-connections are closed at accept; one ended by a GOAWAY frees its place at once', async () => {
  const l = await serve({ maxConnections: 3 });
  const a = await RawClient.open(l.port);
  const b = await RawClient.open(l.port);
  const c = await RawClient.open(l.port);
  try {
    const ms = await closedAfter(l.port, PREFACE);
    assert.ok(ms < 500, `the fourth connection closed after ${ms} ms`);
    // A flood ends one: its socket lingers, but its place is free.
    c.send(times(MAX_PING_STRIKES + 2, frame(PING, 0, 0, Buffer.alloc(8))));
    assert.equal((await goAwayOf(c)).code, H2_ENHANCE_YOUR_CALM);
    const d = await RawClient.open(l.port);
    d.send(request(1, '/l.Echo', 'in'));
    assertOk(await d.complete(1), 'in');
    d.close();
  } finally {
    a.close();
    b.close();
    c.close();
  }
  assert.ok(DEFAULT_LIMITS.maxConnections >= 1000);
});

test('RST_STREAM, WINDOW_UPDATE or a HEADERS on a stream never opened are connection errors; SETTINGS must come first', async () => {
  for (const [bytes, what] of [
    [rstStream(5, 8), 'RST_STREAM on an idle stream'],
    [windowUpdate(5, 10), 'WINDOW_UPDATE on an idle stream'],
  ] as const) {
    const c = await RawClient.open(main.port);
    try {
      c.send(bytes);
      assert.equal((await goAwayOf(c)).code, 1, what);
    } finally {
      c.close();
    }
  }
  const c = await RawClient.open(main.port);
  try {
    c.send(request(5, '/l.Echo', 'x'));
    assertOk(await c.complete(5), 'x');
    c.send(request(3, '/l.Echo', 'lower id'));
    assert.equal((await goAwayOf(c)).code, 1, 'a stream id lower than one used');
  } finally {
    c.close();
  }
  const s = connect(main.port, '127.0.0.1');
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  s.write(Buffer.concat([PREFACE, frame(PING, 0, 0, Buffer.alloc(8))]));
  await new Promise((r) => s.on('close', r));
  const all = Buffer.concat(got);
  assert.ok(all.includes(Buffer.from([0, 0, 8, GOAWAY])), 'GOAWAY after a PING before SETTINGS');
});
