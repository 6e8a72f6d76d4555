import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Proposer } from './propose.ts';
import { Op, peekRaftRequest } from './raft_request.ts';

function proposerAt(now: number): { ids: () => bigint[]; p: Proposer } {
  const logged: Uint8Array[] = [];
  const p = new Proposer({ propose: (d) => logged.push(d), pending: () => 0 }, 0xabcdn, now, 7000, () => 0);
  const ids = () => logged.map((d) => peekRaftRequest(d)!.id);
  return { ids, p };
}

test('proposal ids keep the member bits and a time part for any clock value (bit 31 of now set too)', () => {
  for (const now of [1_700_000_000_000, 2 ** 31 + 5, 2 ** 40 - 1, 0x80000000 * 1000 + 123]) {
    const { ids, p } = proposerAt(now);
    p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {}).catch(() => {});
    p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x62]), {}).catch(() => {});
    const [a, b] = ids();
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a >> 48n, 0xabcdn, `member bits for now=${now}`);
    assert.equal((a >> 8n) & 0xffffffffffn, BigInt(now) & 0xffffffffffn, `time bits for now=${now}`);
    assert.equal(b, a + 1n);
    assert.ok(p.take(a) !== undefined, 'the waiter is found by the id that went into the log');
    p.failAll(new Error('done'));
  }
});

function proposerWithClock(): {
  p: Proposer;
  alive: (() => boolean)[];
  setNow: (t: number) => void;
} {
  let now = 0;
  const alive: (() => boolean)[] = [];
  const p = new Proposer(
    { propose: (_d, a) => alive.push(a), pending: () => 0 },
    1n,
    0,
    6000,
    () => now,
    500,
  );
  return { p, alive, setNow: (t) => (now = t) };
}

test('a proposal that never reached raft (no leader all along) fails as etcd: Unknown-coded context deadline exceeded', async () => {
  const { p, setNow } = proposerWithClock();
  const r = p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {});
  setNow(5999);
  p.expire();
  setNow(6000);
  p.expire();
  await assert.rejects(
    r,
    (e: Error) => e.name === 'ErrProposeDeadline' && e.message === 'context deadline exceeded',
  );
});

test('a proposal handed to raft that does not apply in time fails with "request timed out"', async () => {
  const { p, alive, setNow } = proposerWithClock();
  const r = p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {});
  assert.equal(alive[0]!(), true, 'still wanted when raft takes it');
  setNow(6000);
  p.expire();
  await assert.rejects(
    r,
    (e: Error) => e.name === 'ErrTimeout' && e.message === 'etcdserver: request timed out',
  );
  assert.equal(alive[0]!(), false, 'not wanted after it timed out');
});

test('a registered waiter with an infinite timeout is never expired by the sweep', async () => {
  const { p, setNow } = proposerWithClock();
  let id = 0n;
  const r = p.register<string>((i) => (id = i), Infinity);
  setNow(1e12);
  p.expire();
  p.take(id)!.resolve('applied');
  assert.equal(await r, 'applied');
});

test('a proposal handed to raft that began within two election timeouts before a new leader was elected fails as "possibly due to previous leader failure"', async () => {
  const { p, alive, setNow } = proposerWithClock();
  p.onLeader(7n);
  setNow(1000);
  const lost = p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {});
  alive[0]!();
  setNow(1500);
  p.onLeader(0n); // the leader is gone
  setNow(1800);
  p.onLeader(9n); // a new one 800 ms after the request began: within 2 x 500 ms
  setNow(1900);
  const later = p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x62]), {});
  alive[1]!();
  setNow(7000);
  p.expire();
  await assert.rejects(
    lost,
    (e: Error) =>
      e.name === 'ErrTimeoutDueToLeaderFail' &&
      e.message === 'etcdserver: request timed out, possibly due to previous leader failure',
  );
  setNow(7900);
  p.expire();
  await assert.rejects(later, (e: Error) => e.name === 'ErrTimeout', 'began after the election');
});

test('the same leader seen again is no election', async () => {
  const { p, alive, setNow } = proposerWithClock();
  setNow(100);
  p.onLeader(7n);
  setNow(500);
  const r = p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {});
  alive[0]!();
  setNow(600);
  p.onLeader(7n);
  setNow(6500);
  p.expire();
  await assert.rejects(r, (e: Error) => e.name === 'ErrTimeout');
});
