import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EntryType,
  MemoryStorage,
  MessageType,
  StateType,
  emptyConfState,
  message,
  type Entry,
  type Message,
} from '../raft/index.ts';
import type { Wal } from '../wal/wal.ts';
import { unmarshalConfChange } from '../raft/raftpb_codec.ts';
import { RaftNode } from './raft_node.ts';

interface Saved {
  entries: number;
  hs: boolean;
  snap: boolean;
}

function raftNode(id: bigint, hooks: { applySnapshot?: () => void } = {}) {
  const saves: Saved[] = [];
  const fatals: unknown[] = [];
  const applied: Entry[][] = [];
  const sent: Message[] = [];
  const wal = {
    save: (hs: unknown, entries: readonly Entry[], snap?: unknown) => {
      saves.push({ entries: entries.length, hs: hs !== undefined, snap: snap !== undefined });
      return Promise.resolve();
    },
  } as unknown as Wal;
  const storage = new MemoryStorage();
  const d: RaftNode = new RaftNode(
    {
      wal,
      storage,
      snapshotter: { save: () => {} },
      handler: {
        onSoftState: () => {},
        send: (msgs) => sent.push(...msgs),
        onReadStates: () => {},
        applySnapshot: () => {
          hooks.applySnapshot?.();
          return Promise.resolve();
        },
        applyEntries: (ents) => {
          applied.push(ents);
          for (const e of ents) {
            if (e.type === EntryType.EntryConfChange) d.applyConfChange(unmarshalConfChange(e.type, e.data));
          }
        },
        afterAdvance: () => {},
      },
      fatal: (err) => fatals.push(err),
    },
    {
      id,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      maxInflightMsgs: 256,
      checkQuorum: true,
      preVote: true,
      rand: { intn: () => 0 },
    },
  );
  return { d, saves, applied, sent, fatals };
}

test('a lone voter elects itself at start without waiting for an election timeout', async () => {
  const { d } = raftNode(1n);
  d.bootstrap([{ id: 1n, context: new Uint8Array(0) }]);
  d.start(60_000);
  await d.drain();
  try {
    assert.equal(d.isLeader(), true);
    assert.equal(d.soleVoter(), true);
  } finally {
    d.stop();
  }
});

test('proposals of one event-loop turn become one WAL write and one apply batch', async () => {
  const { d, saves, applied } = raftNode(1n);
  d.bootstrap([{ id: 1n, context: new Uint8Array(0) }]);
  d.start(60_000);
  await d.drain();
  try {
    saves.length = 0;
    applied.length = 0;
    for (let i = 0; i < 100; i++) d.propose(Uint8Array.of(i), () => true);
    await d.drain();
    assert.deepEqual(
      saves.filter((s) => s.entries > 0).map((s) => s.entries),
      [100],
      'one durable write for the whole batch',
    );
    assert.equal(saves.length, 1, 'the commit-only hard state needs no write of its own');
    assert.deepEqual(
      applied.map((b) => b.length),
      [100],
    );
    assert.deepEqual([...applied[0]![99]!.data], [99]);
    // A proposal nobody waits for any more (timed out before a leader took it) is skipped.
    d.propose(Uint8Array.of(1), () => false);
    await d.drain();
    assert.equal(applied.length, 1);
  } finally {
    d.stop();
  }
});

test('a member that is not alone waits for an election and proposals wait for a leader', async () => {
  const { d, applied, sent } = raftNode(1n);
  d.bootstrap([
    { id: 1n, context: new Uint8Array(0) },
    { id: 2n, context: new Uint8Array(0) },
  ]);
  d.start(60_000);
  await d.drain();
  try {
    assert.equal(d.lead(), 0n);
    applied.length = 0;
    d.propose(Uint8Array.of(7), () => true);
    await d.drain();
    assert.equal(d.pending(), 1, 'kept until a leader is known');
    assert.equal(sent.length, 0);
  } finally {
    d.stop();
  }
});

/** A manual clock and timer: `fire()` runs the tick timer's callback at `clock.t`. */
function manualTimer() {
  const clock = { t: 0 };
  let cb: (() => void) | undefined;
  return {
    clock,
    now: () => clock.t,
    every: (fn: () => void) => {
      cb = fn;
      return () => (cb = undefined);
    },
    fire: () => cb?.(),
  };
}

const voters = (...ids: bigint[]) => ids.map((id) => ({ id, context: new Uint8Array(0) }));
const heartbeat = (from: bigint, term = 1) => message({ type: MessageType.MsgHeartbeat, from, to: 1n, term });

test('after the process stood still, at most two ticks are fed, after the messages received meanwhile', async () => {
  const { d, fatals } = raftNode(1n);
  d.bootstrap(voters(1n, 2n, 3n));
  const tm = manualTimer();
  d.start(100, tm.now, tm.every);
  try {
    d.step(heartbeat(2n));
    await d.drain();
    assert.equal(d.lead(), 2n);
    // SIGSTOP for 2 s (20 heartbeat intervals, two election timeouts): one firing when it resumes.
    tm.clock.t += 2000;
    tm.fire();
    await d.drain();
    assert.equal(d.rn.raft.electionElapsed, 2, 'the missed ticks are dropped (20 would start an election)');
    // Another stall, with the leader's heartbeat read from the socket before the timer's turn.
    tm.clock.t += 2000;
    tm.fire();
    d.step(heartbeat(2n));
    await d.drain();
    assert.equal(d.rn.raft.electionElapsed, 2, 'the heartbeat first, then the ticks');
    assert.equal(d.lead(), 2n);
    assert.equal(d.term(), 1);
    assert.deepEqual(fatals, []);
  } finally {
    d.stop();
  }
});

/** A follower of 2 (voters 1, 2, 3) whose loop is blocked 1.5 s applying a snapshot from 2. */
async function blockedBySnapshot() {
  const tm = manualTimer();
  const r = raftNode(1n, { applySnapshot: () => (tm.clock.t += 1500) });
  r.d.bootstrap(voters(1n, 2n, 3n));
  r.d.start(100, tm.now, tm.every);
  r.d.step(heartbeat(2n));
  await r.d.drain();
  r.d.step(
    message({
      type: MessageType.MsgSnap,
      from: 2n,
      to: 1n,
      term: 1,
      snapshot: {
        data: new Uint8Array(0),
        metadata: { index: 10, term: 1, confState: { ...emptyConfState(), voters: [1n, 2n, 3n] } },
      },
    }),
  );
  await r.d.drain();
  assert.equal(r.d.committedIndex(), 10, 'the snapshot was applied');
  tm.clock.t += 50;
  return { ...r, tm };
}

test('ticks missed while applying a snapshot are fed: a dead leader no longer holds a pre-vote back', async () => {
  const { d, sent, tm } = await blockedBySnapshot();
  try {
    // Leader 2 was killed; 3 timed out and asks for a pre-vote (it waited on the socket meanwhile).
    d.step(message({ type: MessageType.MsgPreVote, from: 3n, to: 1n, term: 2, index: 10, logTerm: 1 }));
    sent.length = 0;
    tm.fire();
    await d.drain();
    const answer = sent.find((m) => m.type === MessageType.MsgPreVoteResp && m.to === 3n);
    assert.ok(answer, 'the pre-vote is answered, not ignored as inside the old leader lease');
    assert.equal(answer.reject, false);
  } finally {
    d.stop();
  }
});

test('ticks missed while applying a snapshot go before the messages received meanwhile', async () => {
  const { d, tm } = await blockedBySnapshot();
  try {
    // Leader 2 is alive: its heartbeat waited on the socket while the snapshot was applied.
    d.step(heartbeat(2n));
    tm.fire();
    await d.drain();
    assert.equal(d.lead(), 2n);
    assert.equal(d.rn.basicStatus().softState.raftState, StateType.StateFollower);
    assert.equal(d.rn.raft.electionElapsed, 2, 'catch-up ticks, then the heartbeat, then the ticks');
    assert.equal(d.term(), 1);
  } finally {
    d.stop();
  }
});

test('a peer message raft refuses for itself is dropped; anything else raft throws stops the member', async () => {
  const { d, fatals } = raftNode(1n);
  d.bootstrap(voters(1n, 2n));
  d.start(60_000);
  await d.drain();
  try {
    // A response from a member not in the configuration, and a local message type off the wire.
    d.step(message({ type: MessageType.MsgAppResp, from: 9n, to: 1n, term: 1 }));
    d.step(message({ type: MessageType.MsgHup, from: 2n, to: 1n, term: 1 }));
    await d.drain();
    assert.deepEqual(fatals, []);
    const bug = new Error('raft: 1 stepped something it cannot handle');
    d.rn.raft.step = () => {
      throw bug;
    };
    d.step(heartbeat(2n));
    await d.drain();
    assert.deepEqual(fatals, [bug]);
  } finally {
    d.stop();
  }
});

test('advanced election ticks bring the first campaign closer (--initial-election-tick-advance)', async () => {
  // electionTick 10 and rand 0: a follower campaigns (pre-vote) at its 10th tick.
  const run = async (advance: number) => {
    const { d, sent } = raftNode(1n);
    d.bootstrap(voters(1n, 2n, 3n));
    const tm = manualTimer();
    d.start(100, tm.now, tm.every);
    try {
      await d.drain();
      d.advanceTicks(advance);
      await d.drain();
      let firings = 0;
      while (!sent.some((m) => m.type === MessageType.MsgPreVote) && firings < 50) {
        tm.clock.t += 100;
        tm.fire();
        await d.drain();
        firings++;
      }
      return firings;
    } finally {
      d.stop();
    }
  };
  assert.equal(await run(8), 2, 'electionTicks - 2 advanced: two heartbeat intervals to the campaign');
  assert.equal(await run(0), 10, 'not advanced: the whole election timeout');
});
