import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from '../../test/helpers/procs.ts';
import { type Limits, Transport } from './transport.ts';
import { type Message, MessageType, message } from '../raft/raftpb.ts';
import { encodeMessage } from '../raft/raftpb_codec.ts';
import { Channel, frame, FrameKind, helloFrame } from './frame.ts';

// Member IDs above 2^53, as real member IDs usually are.
const ID1 = 0x8e9e05c52164694dn;
const ID2 = 0x91bc3c398fb3c146n;
const ID3 = 0xfd422379fda50e48n;
const CLUSTER = 0xcdf818194e3a8c32n;
const FAST: Partial<Limits> = { backoffMinMs: 5, backoffMaxMs: 50 };

interface Node {
  id: bigint;
  url: string;
  t: Transport;
  msgs: Message[];
  unreachable: bigint[];
  snaps: [bigint, boolean][];
  logs: string[];
}

const open: Transport[] = [];

async function node(id: bigint, opts: { port?: number; cluster?: bigint; limits?: Partial<Limits> } = {}) {
  const port = opts.port ?? (await freePort());
  const msgs: Message[] = [];
  const unreachable: bigint[] = [];
  const snaps: [bigint, boolean][] = [];
  const logs: string[] = [];
  const rec = (level: string) => (msg: string) => logs.push(`${level} ${msg}`);
  const url = `http://127.0.0.1:${port}`;
  const t = new Transport({
    clusterId: opts.cluster ?? CLUSTER,
    memberId: id,
    listenUrl: url,
    onMessage: (m) => msgs.push(m),
    onUnreachable: (x) => unreachable.push(x),
    onSnapshotStatus: (x, ok) => snaps.push([x, ok]),
    logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') },
    limits: { ...FAST, ...opts.limits },
  });
  const n: Node = { id, url, t, msgs, unreachable, snaps, logs };
  await n.t.start();
  open.push(n.t);
  return n;
}

function mesh(...nodes: Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.t.addPeer(b.id, b.url);
}

/** Waits for a condition with a deadline (checked every few ms; `poke` runs on each check). */
async function waitFor(what: string, cond: () => boolean, ms = 5000, poke?: () => void): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    poke?.();
    if (cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const app = (from: bigint, to: bigint, index: number, data = new Uint8Array([index & 0xff])) =>
  message({
    type: MessageType.MsgApp,
    from,
    to,
    term: 3,
    logTerm: 3,
    index,
    commit: index,
    entries: [{ term: 3, index: index + 1, type: 0, data }],
  });
const hb = (from: bigint, to: bigint, commit = 0) =>
  message({ type: MessageType.MsgHeartbeat, from, to, term: 3, commit });

const resourceCount = () =>
  process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP') || r === 'Timeout' || r === 'Immediate')
    .length;
let baseline = 0;
before(() => {
  baseline = resourceCount();
});
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

test('three transports exchange messages in order, 64-bit IDs and entries intact', async () => {
  const [a, b, c] = [await node(ID1), await node(ID2), await node(ID3)];
  mesh(a, b, c);
  for (let batch = 0; batch < 10; batch++) {
    const out: Message[] = [];
    for (let i = 0; i < 100; i++) {
      const index = batch * 100 + i;
      out.push(app(ID1, ID2, index), app(ID1, ID3, index));
    }
    a.t.send(out);
    b.t.send([hb(ID2, ID1, batch), hb(ID2, ID3, batch)]);
    c.t.send([hb(ID3, ID1, batch)]);
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(
    'all messages',
    () => b.msgs.length === 1000 && c.msgs.length === 1010 && a.msgs.length === 20,
  );
  assert.deepEqual(
    b.msgs.map((m) => m.index),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(b.msgs[7], app(ID1, ID2, 7));
  const fromA = c.msgs.filter((m) => m.from === ID1).map((m) => m.index);
  assert.deepEqual(
    fromA,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  const fromB = c.msgs.filter((m) => m.from === ID2).map((m) => m.commit);
  assert.deepEqual(fromB, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(
    a.msgs.filter((m) => m.from === ID3).map((m) => m.commit),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.ok(a.t.connected(ID2) && a.t.connected(ID3));
  await Promise.all([a.t.close(), b.t.close(), c.t.close()]);
});

test('reconnects with backoff after the receiver restarts; reports it unreachable meanwhile', async () => {
  const a = await node(ID1);
  const b = await node(ID2);
  mesh(a, b);
  a.t.send([hb(ID1, ID2, 1)]);
  await waitFor('first message', () => b.msgs.length === 1);
  const port = Number(new URL(b.url).port);
  await b.t.close();
  await waitFor('unreachable report', () => a.unreachable.includes(ID2));
  a.t.send([hb(ID1, ID2, 2)]); // dropped while backing off, and reported
  const b2 = await node(ID2, { port });
  await waitFor(
    'delivery after restart',
    () => b2.msgs.length > 0,
    5000,
    () => a.t.send([hb(ID1, ID2, 3)]),
  );
  assert.ok(b2.msgs.every((m) => m.commit === 3));
  assert.ok(a.logs.some((l) => l.startsWith('warn lost connection to peer')));
  await Promise.all([a.t.close(), b2.t.close()]);
});

test('a restarted peer that dials in ends the backoff towards it at once', async () => {
  // A backoff far longer than the test: only the peer's own connection can bring the stream back.
  const slow = { backoffMinMs: 600_000, backoffMaxMs: 600_000 };
  const a = await node(ID1, { limits: slow });
  const b = await node(ID2);
  mesh(a, b);
  a.t.send([hb(ID1, ID2, 1)]);
  await waitFor('first message', () => b.msgs.length === 1);
  const port = Number(new URL(b.url).port);
  await b.t.close();
  await waitFor('unreachable report', () => a.unreachable.includes(ID2));
  const b2 = await node(ID2, { port });
  assert.equal(a.t.connected(ID2), false);
  b2.t.addPeer(ID1, a.url);
  b2.t.send([hb(ID2, ID1, 9)]);
  await waitFor('the restarted peer to dial in', () => a.msgs.some((m) => m.commit === 9));
  await waitFor(
    'delivery to the restarted peer',
    () => b2.msgs.length > 0,
    5000,
    () => a.t.send([hb(ID1, ID2, 2)]),
  );
  assert.ok(a.t.connected(ID2));
  await Promise.all([a.t.close(), b2.t.close()]);
});

test('a peer of another cluster is rejected with "cluster ID mismatch" and reported unreachable', async () => {
  const a = await node(ID1);
  const b = await node(ID2, { cluster: CLUSTER + 1n });
  a.t.addPeer(ID2, b.url);
  await waitFor(
    'rejection',
    () => a.unreachable.includes(ID2) && a.logs.some((l) => l.includes('cluster ID mismatch')),
  );
  assert.ok(
    b.logs.some((l) => l.startsWith('error') && l.includes('cluster ID mismatch')),
    b.logs.join('\n'),
  );
  a.t.send([hb(ID1, ID2)]);
  assert.equal(a.t.connected(ID2), false);
  assert.equal(b.msgs.length, 0);
  await Promise.all([a.t.close(), b.t.close()]);
});

test('an overflowing queue drops MsgApp but keeps heartbeats, and reports the peer unreachable', async () => {
  const a = await node(ID1, { limits: { maxQueueMsgs: 10 } });
  const b = await node(ID2);
  mesh(a, b);
  await waitFor('connection', () => a.t.connected(ID2));
  const out: Message[] = [];
  for (let i = 0; i < 50; i++) {
    out.push(app(ID1, ID2, i));
    if (i % 10 === 9) out.push(hb(ID1, ID2, i));
  }
  a.t.send(out);
  assert.equal(a.t.queuedMessages(ID2), 15);
  await waitFor('delivery', () => b.msgs.length === 15);
  const apps = b.msgs.filter((m) => m.type === MessageType.MsgApp).map((m) => m.index);
  assert.deepEqual(apps, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(
    b.msgs.filter((m) => m.type === MessageType.MsgHeartbeat).map((m) => m.commit),
    [9, 19, 29, 39, 49],
  );
  assert.deepEqual(a.unreachable, [ID2]); // once for the whole turn
  await Promise.all([a.t.close(), b.t.close()]);
});

test('a peer that stops reading: its backlog stops the flushes, then MsgApp is dropped and heartbeats kept', async () => {
  // A fake peer that completes the handshake and then never reads again.
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    accepted.push(s);
    s.once('data', () => {
      s.write(frame(FrameKind.HelloOk));
      s.pause();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const a = await node(ID1, { limits: { writeHighWaterBytes: 256 << 10, maxQueueMsgs: 50 } });
  a.t.addPeer(ID2, `127.0.0.1:${port}`);
  await waitFor('connection', () => a.t.connected(ID2));
  const big = new Uint8Array(16 << 10);
  let i = 0;
  await waitFor(
    'overflow',
    () => a.unreachable.includes(ID2),
    10_000,
    () => {
      for (let k = 0; k < 10; k++) a.t.send([app(ID1, ID2, i++, big)]);
    },
  );
  const queued = a.t.queuedMessages(ID2);
  a.t.send([app(ID1, ID2, i++, big)]);
  assert.equal(a.t.queuedMessages(ID2), queued); // dropped
  a.t.send([hb(ID1, ID2), message({ type: MessageType.MsgVote, from: ID1, to: ID2, term: 4 })]);
  assert.equal(a.t.queuedMessages(ID2), queued + 2); // kept
  assert.ok(a.t.connected(ID2));
  await a.t.close();
  for (const s of accepted) s.destroy(); // paused sockets never see the EOF
  await new Promise((r) => server.close(r));
});

test('partition and heal, plus drop and delay fault hooks, on the send side', async () => {
  const [a, b, c] = [await node(ID1), await node(ID2), await node(ID3)];
  mesh(a, b, c);
  a.t.partition([ID3]);
  c.t.partition([ID1, ID2]);
  a.t.send([hb(ID1, ID2, 1), hb(ID1, ID3, 1)]);
  c.t.send([hb(ID3, ID1, 1)]);
  await waitFor('b gets its message', () => b.msgs.length === 1);
  a.t.heal();
  c.t.heal();
  a.t.send([hb(ID1, ID3, 2)]);
  c.t.send([hb(ID3, ID1, 2)]);
  // Same connection, in order: had the partitioned messages gone out, they would have arrived first.
  await waitFor('healed delivery', () => c.msgs.length === 1 && a.msgs.length === 1);
  assert.equal(c.msgs[0]!.commit, 2);
  assert.equal(a.msgs[0]!.commit, 2);
  assert.ok(a.unreachable.includes(ID3));

  a.t.faults = {
    drop: (_f, _t, m) => m.commit === 13,
    delayMs: (_f, _t, m) => (m.commit === 11 ? 30 : 0),
  };
  a.t.send([hb(ID1, ID2, 11), hb(ID1, ID2, 12), hb(ID1, ID2, 13), hb(ID1, ID2, 14)]);
  await waitFor('faulty delivery', () => b.msgs.length === 4);
  assert.deepEqual(
    b.msgs.map((m) => m.commit),
    [1, 12, 14, 11],
  );
  await Promise.all([a.t.close(), b.t.close(), c.t.close()]);
});

test('a 5 MiB snapshot arrives whole on its own connection; a failed one is reported', async () => {
  const a = await node(ID1, { limits: { snapshotChunkBytes: 256 << 10 } });
  const b = await node(ID2);
  mesh(a, b);
  const data = new Uint8Array(5 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  const snapshot = {
    data,
    metadata: {
      index: 1000,
      term: 3,
      confState: {
        voters: [ID1, ID2],
        learners: [ID3],
        votersOutgoing: [],
        learnersNext: [],
        autoLeave: false,
      },
    },
  };
  const snap = message({ type: MessageType.MsgSnap, from: ID1, to: ID2, term: 3, snapshot });
  a.t.send([snap, hb(ID1, ID2, 5)]);
  await waitFor('snapshot', () => b.msgs.length === 2 && a.snaps.length === 1, 20_000);
  assert.deepEqual(a.snaps, [[ID2, true]]);
  const got = b.msgs.find((m) => m.type === MessageType.MsgSnap)!;
  assert.equal(got.snapshot!.data.length, data.length);
  assert.ok(Buffer.from(got.snapshot!.data).equals(Buffer.from(data)));
  assert.deepEqual(got.snapshot!.metadata, snapshot.metadata);
  assert.equal(got.from, ID1);

  const dead = `127.0.0.1:${await freePort()}`;
  a.t.addPeer(ID3, dead);
  a.t.send([{ ...snap, to: ID3 }]);
  await waitFor('failure report', () => a.snaps.length === 2);
  assert.deepEqual(a.snaps[1], [ID3, false]);
  await Promise.all([a.t.close(), b.t.close()]);
});

test('garbage, oversized frames and undecodable messages close that connection only', async () => {
  const b = await node(ID2, { limits: { maxFrameBytes: 1 << 20 } });
  const port = Number(new URL(b.url).port);
  const hello = helloFrame({ channel: Channel.Stream, clusterId: CLUSTER, from: ID1, to: ID2 });
  const inputs: Uint8Array[] = [
    new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    frame(FrameKind.Msg, encodeMessage(hb(ID1, ID2))), // no hello first
    Buffer.concat([hello, frame(FrameKind.Msg, new Uint8Array([0x08, 0x80]))]), // truncated varint
    Buffer.concat([hello, new Uint8Array([0x00, 0x20, 0x00, 0x00, FrameKind.Msg])]), // 2 MiB frame
    Buffer.concat([hello, frame(FrameKind.SnapChunk, new Uint8Array(3))]), // wrong kind on a stream
  ];
  for (const bytes of inputs) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.on('data', () => {});
    const closed = new Promise((r) => s.once('close', r));
    s.write(bytes);
    await waitFor('the server to close the connection', () => s.destroyed || s.readableEnded, 5000);
    s.destroy();
    await closed;
  }
  const errors = b.logs.filter((l) => l.startsWith('error closing connection'));
  assert.equal(errors.length, inputs.length, b.logs.join('\n'));
  assert.match(errors[0]!, /exceeds the limit/);
  assert.match(errors[1]!, /expected a hello/);
  assert.match(errors[2]!, /varint/);
  assert.match(errors[3]!, /2097152 bytes exceeds/);
  assert.equal(b.msgs.length, 0);
  // Still serving real peers.
  const a = await node(ID1);
  a.t.addPeer(ID2, b.url);
  a.t.send([hb(ID1, ID2, 42)]);
  await waitFor('a good message', () => b.msgs.length === 1);
  assert.equal(b.msgs[0]!.commit, 42);
  await Promise.all([a.t.close(), b.t.close()]);
});

test('throughput: 100k small MsgApp frames delivered in order within a bounded time', async () => {
  const N = 100_000;
  const a = await node(ID1, { limits: { maxQueueMsgs: N } });
  const b = await node(ID2);
  mesh(a, b);
  await waitFor('connection', () => a.t.connected(ID2));
  const payload = new Uint8Array(64);
  let next = 0;
  let inOrder = true;
  b.t.onMessage = (m) => {
    if (m.index !== next) inOrder = false;
    next++;
  };
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch: Message[] = [];
    for (let j = i; j < i + 1000; j++) batch.push(app(ID1, ID2, j, payload));
    a.t.send(batch);
    await new Promise((r) => setImmediate(r));
  }
  await waitFor('all frames', () => next === N, 60_000);
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `transport throughput: ${Math.round(N / secs)} msgs/s (${N} MsgApp of 64 B, ${secs.toFixed(2)} s)`,
  );
  assert.ok(inOrder);
  assert.deepEqual(a.unreachable, []);
  await Promise.all([a.t.close(), b.t.close()]);
});

test('close() leaves no sockets, servers or timers behind', async () => {
  const [a, b] = [await node(ID1), await node(ID2)];
  mesh(a, b);
  a.t.addPeer(ID3, `127.0.0.1:${await freePort()}`); // backing off: a pending timer
  a.t.faults = { delayMs: () => 10_000 };
  a.t.send([hb(ID1, ID2)]); // a pending delay timer
  await waitFor('connections', () => a.t.connected(ID2) && b.t.connected(ID1) && a.unreachable.includes(ID3));
  assert.ok(resourceCount() > baseline);
  await Promise.all([a.t.close(), b.t.close()]);
  assert.equal(resourceCount(), baseline, process.getActiveResourcesInfo().join(' '));
});
