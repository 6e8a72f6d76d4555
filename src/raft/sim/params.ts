// Per-seed fault rates and raft knobs, all drawn from the seed's PRNG so each seed is its own world.
import type { RaftKnobs } from './node.ts';
import type { Prng } from './prng.ts';

/** Simulated time units per raft tick. */
export const TICK = 10;
export const ELECTION_TICK = 10;

export interface SeedParams {
  loss: number;
  dup: number;
  /** Message delay in time units, uniform in [minDelay, maxDelay]; `spike` is the chance of 2-10x that. */
  minDelay: number;
  maxDelay: number;
  spike: number;
  /** Per world tick: chance a partition starts; how long it lasts (ticks). */
  partitionRate: number;
  partitionTicks: [number, number];
  crashRate: number;
  downTicks: [number, number];
  /** Chance a node crashes between its writes and their fsync. */
  tornWriteRate: number;
  /** Proposals per world tick (expected). */
  proposeRate: number;
  confRate: number;
  transferRate: number;
  compactEvery: number;
  compactKeep: number;
  knobs: RaftKnobs;
}

export function drawParams(p: Prng): SeedParams {
  const calm = p.chance(0.1); // some seeds run without faults at all, as a baseline
  const minDelay = p.range(1, 3);
  const knobs: RaftKnobs = {
    electionTick: ELECTION_TICK,
    heartbeatTick: p.pick([1, 1, 2, 3]),
    maxInflightMsgs: p.pick([1, 2, 4, 256]),
    checkQuorum: p.chance(0.6),
    preVote: p.chance(0.6),
    stepDownOnRemoval: p.chance(0.5),
    disableProposalForwarding: p.chance(0.15),
  };
  const maxSize = p.pick([0, 40, 200, 0x100000]);
  if (maxSize > 0 || p.chance(0.5)) knobs.maxSizePerMsg = maxSize;
  if (p.chance(0.3)) knobs.maxCommittedSizePerReady = p.pick([1, 100]);
  if (p.chance(0.3)) knobs.maxUncommittedEntriesSize = p.pick([30, 300]);
  if (knobs.maxSizePerMsg !== undefined && p.chance(0.2)) {
    knobs.maxInflightBytes = Math.max(knobs.maxSizePerMsg, 200) * p.range(1, 4);
  }
  return {
    loss: calm ? 0 : p.float() * 0.3,
    dup: calm ? 0 : p.float() * 0.1,
    minDelay,
    maxDelay: minDelay + p.range(0, 30),
    spike: calm ? 0 : p.float() * 0.05,
    partitionRate: calm ? 0 : p.float() * 0.05,
    partitionTicks: [5, p.range(10, 80)],
    crashRate: calm ? 0 : p.float() * 0.04,
    downTicks: [2, p.range(5, 60)],
    tornWriteRate: calm ? 0 : p.float() * 0.003,
    proposeRate: 0.2 + p.float() * 1.5,
    confRate: p.float() * 0.06,
    transferRate: p.float() * 0.03,
    compactEvery: p.range(3, 40),
    compactKeep: p.range(0, 10),
    knobs,
  };
}

export function describeParams(s: SeedParams): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  return (
    `loss ${pct(s.loss)} dup ${pct(s.dup)} delay ${s.minDelay}-${s.maxDelay} spike ${pct(s.spike)} ` +
    `partition ${pct(s.partitionRate)}/tick crash ${pct(s.crashRate)}/tick torn ${pct(s.tornWriteRate)} ` +
    `propose ${s.proposeRate.toFixed(2)}/tick conf ${pct(s.confRate)} transfer ${pct(s.transferRate)} ` +
    `compact every ${s.compactEvery} keep ${s.compactKeep} knobs ${JSON.stringify(s.knobs)}`
  );
}
