import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadIndexer } from './read_index.ts';

function setup() {
  const asked: Uint8Array[] = [];
  let applied = 0;
  let now = 0;
  const r = new ReadIndexer({
    requestReadIndex: (ctx) => asked.push(ctx),
    leadsAlone: () => false,
    applied: () => applied,
    now: () => now,
    retryMs: 500,
    timeoutMs: 7000,
  });
  return {
    r,
    asked,
    setApplied: (i: number) => {
      applied = i;
      r.onApplied(i);
    },
    advance: (ms: number) => {
      now += ms;
      r.tick();
    },
  };
}

const settled = async (p: Promise<void>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    (e: Error) => (state = `rejected: ${e.message}`),
  );
  await new Promise((res) => setImmediate(res));
  return state;
};

test('reads arriving while a round is in flight share the next round', async () => {
  const s = setup();
  const a = s.r.wait();
  const b = s.r.wait();
  const c = s.r.wait();
  assert.equal(s.asked.length, 1, 'b and c wait for the round in flight to end');
  s.setApplied(5);
  s.r.onReadState({ index: 5, requestCtx: s.asked[0]! });
  assert.equal(await settled(a), 'resolved');
  assert.equal(s.asked.length, 2, 'one more round for both b and c');
  assert.equal(await settled(b), 'pending');
  s.r.onReadState({ index: 6, requestCtx: s.asked[1]! });
  assert.equal(await settled(c), 'pending', 'waits until applied reaches the read index');
  s.setApplied(6);
  assert.equal(await settled(b), 'resolved');
  assert.equal(await settled(c), 'resolved');
  assert.equal(s.asked.length, 2, 'no round without readers');
});

test('an answer with another context is ignored; a lost round is asked again, then times out', async () => {
  const s = setup();
  const a = s.r.wait();
  s.r.onReadState({ index: 1, requestCtx: Buffer.alloc(8, 7) });
  assert.equal(await settled(a), 'pending');
  s.advance(600);
  assert.equal(s.asked.length, 2, 'retried after retryMs');
  assert.deepEqual(s.asked[1], s.asked[0], 'with the same context');
  s.advance(7000);
  assert.equal(await settled(a), 'rejected: etcdserver: request timed out');
});

test('a leader change fails the round in flight with "leader changed"', async () => {
  const s = setup();
  const a = s.r.wait();
  s.r.onLeaderChange();
  assert.equal(await settled(a), 'rejected: etcdserver: leader changed');
  s.r.close();
  assert.equal(await settled(s.r.wait()), 'rejected: etcdserver: server stopped');
});

test('a lone voter that leads needs no barrier; otherwise the barrier is a read-index round', async () => {
  let alone = true;
  const asked: Uint8Array[] = [];
  const r = new ReadIndexer({
    requestReadIndex: (ctx) => asked.push(ctx),
    leadsAlone: () => alone,
    applied: () => 3,
    now: () => 0,
    retryMs: 500,
    timeoutMs: 7000,
  });
  assert.equal(r.barrier(), undefined);
  alone = false;
  const b = r.barrier();
  assert.ok(b);
  r.onReadStates([{ index: 3, requestCtx: asked[0]! }]);
  assert.equal(await settled(b), 'resolved');
  r.close();
});
