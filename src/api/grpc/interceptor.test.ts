import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { RequestHead, StreamSink } from '../http/h2_server.ts';
import { messageType } from '../../proto/index.ts';
import { GrpcRouter, bidi, serverStream, unary } from './router.ts';
import { Interceptor } from './interceptor.ts';
import { Code } from './status.ts';

// The router with etcd's interceptors (interceptor.ts) in front of stub handlers that record that they
// ran; the member's gate is a plain object the tests flip, the leader checks are stepped by hand.

const RangeRequest = messageType('etcdserverpb.RangeRequest');
const PutRequest = messageType('etcdserverpb.PutRequest');
const LEARNER = [Code.UNAVAILABLE, 'etcdserver: rpc not supported for learner'] as const;
const NO_LEADER = [Code.UNAVAILABLE, 'etcdserver: no leader'] as const;

type Event = ['reply'] | ['send'] | ['fail', number, string];

function recorder(): StreamSink & { events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    reply: () => void events.push(['reply']),
    send: (_b, done) => {
      events.push(['send']);
      done?.();
    },
    fail: (code, details) => void events.push(['fail', code, details]),
  };
}

function head(path: string, hasLeader = false): RequestHead {
  const fields: [string, string][] = [
    [':method', 'POST'],
    [':path', path],
    ['content-type', 'application/grpc'],
  ];
  if (hasLeader) fields.push(['hasleader', 'true']);
  return {
    method: 'POST',
    path,
    contentType: 'application/grpc',
    encoding: undefined,
    timeout: undefined,
    fields,
  };
}

function framed(msg: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt32BE(msg.length, 1);
  Buffer.from(msg).copy(b, 5);
  return b;
}

function setup() {
  const gate = { learner: false, noLeader: false };
  let check: (() => void) | undefined;
  const guard = new Interceptor({
    gate,
    electionMs: 1000,
    setInterval: (fn) => ((check = fn), {}),
    clearInterval: () => {},
  });
  const ran: string[] = [];
  const router = new GrpcRouter({ maxReceiveBytes: 1 << 20, log: pino({ level: 'silent' }), guard });
  router.service('etcdserverpb.KV', {
    Range: unary(() => (ran.push('Range'), {})),
    Put: unary(() => (ran.push('Put'), {})),
  });
  router.service('etcdserverpb.Maintenance', {
    Status: unary(() => (ran.push('Status'), {})),
    Snapshot: serverStream((_raw, _ctx, out) => {
      ran.push('Snapshot');
      out.write({});
      return new Promise(() => {});
    }),
  });
  router.service('etcdserverpb.Watch', {
    Watch: bidi(() => {
      ran.push('Watch');
      return { message() {}, end() {}, close() {} };
    }),
  });
  const unaryCall = (path: string, msg: Uint8Array, hasLeader = false) => {
    const sink = recorder();
    router.route(head(path, hasLeader), sink).data(framed(msg));
    return sink.events;
  };
  const openStream = (path: string, hasLeader = false) => {
    const sink = recorder();
    const call = router.route(head(path, hasLeader), sink);
    return { sink, call };
  };
  return { gate, ran, unaryCall, openStream, check: () => check!() };
}

const range = (serializable: boolean) =>
  RangeRequest.encode({ key: Buffer.from('a'), serializable }).finish();
const put = PutRequest.encode({ key: Buffer.from('a'), value: Buffer.from('1') }).finish();

test('a voter with a leader: every call reaches its handler, hasleader or not', () => {
  const s = setup();
  assert.deepEqual(s.unaryCall('/etcdserverpb.KV/Put', put, true), [['reply']]);
  s.openStream('/etcdserverpb.Watch/Watch', true);
  assert.deepEqual(s.ran, ['Put', 'Watch']);
});

test('a learner serves Status and serializable Range only; other unary calls are refused after decoding', () => {
  const s = setup();
  s.gate.learner = true;
  s.unaryCall('/etcdserverpb.Maintenance/Status', new Uint8Array());
  s.unaryCall('/etcdserverpb.KV/Range', range(true));
  assert.deepEqual(s.unaryCall('/etcdserverpb.KV/Range', range(false)), [['fail', ...LEARNER]]);
  assert.deepEqual(s.unaryCall('/etcdserverpb.KV/Put', put), [['fail', ...LEARNER]]);
  // A request that does not decode gets the decoder's error, as grpc-go decodes before its interceptor.
  const bad = s.unaryCall('/etcdserverpb.KV/Put', Buffer.from([0x0a, 0x05, 0x61]));
  assert.equal(bad.length, 1);
  assert.equal(bad[0]![1], Code.INTERNAL);
  assert.deepEqual(s.ran, ['Status', 'Range']);
});

test('a learner refuses every stream at its opening, before its handler or any message', () => {
  const s = setup();
  s.gate.learner = true;
  assert.deepEqual(s.openStream('/etcdserverpb.Watch/Watch').sink.events, [['fail', ...LEARNER]]);
  assert.deepEqual(s.openStream('/etcdserverpb.Maintenance/Snapshot').sink.events, [['fail', ...LEARNER]]);
  assert.deepEqual(s.ran, []);
});

test('without a leader, only calls carrying hasleader=true are refused, with "etcdserver: no leader"', () => {
  const s = setup();
  s.gate.noLeader = true;
  assert.deepEqual(s.unaryCall('/etcdserverpb.KV/Range', range(true), true), [['fail', ...NO_LEADER]]);
  assert.deepEqual(s.unaryCall('/etcdserverpb.Maintenance/Status', new Uint8Array(), true), [
    ['fail', ...NO_LEADER],
  ]);
  assert.deepEqual(s.openStream('/etcdserverpb.Watch/Watch', true).sink.events, [['fail', ...NO_LEADER]]);
  s.unaryCall('/etcdserverpb.KV/Range', range(false));
  s.openStream('/etcdserverpb.Watch/Watch');
  assert.deepEqual(s.ran, ['Range', 'Watch']);
});

test('a learner is refused as a learner first, as etcd checks it before hasleader', () => {
  const s = setup();
  s.gate.learner = true;
  s.gate.noLeader = true;
  assert.deepEqual(s.unaryCall('/etcdserverpb.KV/Put', put, true), [['fail', ...LEARNER]]);
});

test('hasleader streams end with "no leader" at the 3rd check in a row without a leader; others run on', () => {
  const s = setup();
  const required = s.openStream('/etcdserverpb.Watch/Watch', true);
  const plain = s.openStream('/etcdserverpb.Watch/Watch');
  const snap = s.openStream('/etcdserverpb.Maintenance/Snapshot', true);
  snap.call.data(framed(new Uint8Array()));
  s.gate.noLeader = true;
  s.check();
  s.check();
  // A leader seen in between starts the count again.
  s.gate.noLeader = false;
  s.check();
  s.gate.noLeader = true;
  s.check();
  s.check();
  assert.deepEqual(required.sink.events, []);
  s.check();
  assert.deepEqual(required.sink.events, [['fail', ...NO_LEADER]]);
  assert.deepEqual(snap.sink.events, [['send'], ['fail', ...NO_LEADER]]);
  assert.deepEqual(plain.sink.events, []);
  // Ended once: later checks find nothing to end.
  s.check();
  assert.equal(required.sink.events.length, 1);
});

test('a hasleader stream that ended on its own is not failed later', () => {
  const s = setup();
  const w = s.openStream('/etcdserverpb.Watch/Watch', true);
  w.call.cancel();
  s.gate.noLeader = true;
  for (let i = 0; i < 3; i++) s.check();
  assert.deepEqual(w.sink.events, []);
});
