import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, MemoryStorage, type Entry, type Message } from '../raft/index.ts';
import type { Wal } from '../wal/wal.ts';
import { unmarshalConfChange } from '../raft/raftpb_codec.ts';
import { RaftDriver } from './raft_driver.ts';

interface Saved {
  entries: number;
  hs: boolean;
  snap: boolean;
}

function driver(id: bigint) {
  const saves: Saved[] = [];
  const applied: Entry[][] = [];
  const sent: Message[] = [];
  const wal = {
    save: (hs: unknown, entries: readonly Entry[], snap?: unknown) => {
      saves.push({ entries: entries.length, hs: hs !== undefined, snap: snap !== undefined });
      return Promise.resolve();
    },
  } as unknown as Wal;
  const storage = new MemoryStorage();
  const d = new RaftDriver(
    {
      wal,
      storage,
      send: (msgs) => sent.push(...msgs),
      persistSnapshot: () => {},
      applySnapshot: () => Promise.resolve(),
      apply: (ents) => {
        applied.push(ents);
        for (const e of ents) {
          if (e.type === EntryType.EntryConfChange) d.applyConfChange(unmarshalConfChange(e.type, e.data));
        }
      },
      onSoftState: () => {},
      onReadStates: () => {},
      afterAdvance: () => {},
      fatal: (err) => {
        throw err;
      },
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
  return { d, saves, applied, sent };
}

test('a lone voter elects itself at start without waiting for an election timeout', async () => {
  const { d } = driver(1n);
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
  const { d, saves, applied } = driver(1n);
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
  const { d, applied, sent } = driver(1n);
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

test('ticks follow the clock: ticks missed while the loop was blocked are fed at the next firing', async () => {
  // A follower of a 2-voter configuration with no leader: only ticks move its election clock.
  const { d } = driver(1n);
  d.bootstrap([
    { id: 1n, context: new Uint8Array(0) },
    { id: 2n, context: new Uint8Array(0) },
  ]);
  let clock = 0;
  const heartbeatMs = 5;
  d.start(heartbeatMs, () => clock);
  await d.drain();
  try {
    const before = d.rn.raft.electionElapsed;
    // 7 heartbeat intervals pass at once (as when a snapshot apply blocked the loop), then the
    // timer fires: all 7 ticks must reach raft, not one.
    clock += 7 * heartbeatMs;
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (d.rn.raft.electionElapsed !== before) {
          clearInterval(t);
          resolve();
        }
      }, 1);
    });
    await d.drain();
    assert.equal(d.rn.raft.electionElapsed - before, 7);
  } finally {
    d.stop();
  }
});
