// The deterministic simulator: one discrete-event loop over simulated nodes, a faulty network, crashes,
// membership changes, leader transfers and compaction. Every random choice comes from PRNGs forked
// from the seed, so a seed replays exactly. After every event the checker has seen everything that
// changed; the last stretch of a seed heals all faults and demands that a proposal commit everywhere.
import { describeMessage } from '../describe.ts';
import { ErrProposalDropped, ErrStepPeerNotFound } from '../errors.ts';
import { SnapshotStatus } from '../rawnode.ts';
import { MessageType, type ConfState, type Entry, type Message, type NodeId } from '../raftpb.ts';
import { Checker } from './checker.ts';
import { SimDisk } from './disk.ts';
import { EventQueue } from './event_queue.ts';
import { chooseConfChange } from './membership.ts';
import { SimNode, emptyStats, type NodeEnv, type Sabotage, type SimStats } from './node.ts';
import { drawParams, describeParams, ELECTION_TICK, TICK, type SeedParams } from './params.ts';
import { Prng } from './prng.ts';
import { StateMachine } from './state_machine.ts';
import { Faults } from './faults.ts';

export interface SimOptions {
  /** Founding voters (3 or 5). */
  nodes: number;
  /** Ticks of faults before the healed stretch. */
  chaosTicks: number;
  /** Ticks the healed cluster gets to commit a proposal on every voter. */
  healTicks: number;
  trace?: (line: string) => void;
  /** A deliberate driver bug, to prove the checks bite. */
  sabotage?: Sabotage;
}

export const DEFAULT_OPTIONS: SimOptions = { nodes: 3, chaosTicks: 200, healTicks: 300 };

export interface SeedResult {
  seed: number;
  steps: number;
  ticks: number;
  /** Ticks after healing until a proposal was applied on every voter. */
  healTicks?: number;
  stats: SimStats;
  violation?: string;
  liveness?: string;
}

type Ev =
  | { k: 'tick'; id: NodeId; inc: number }
  | { k: 'msg'; m: Message }
  | { k: 'snapStatus'; leader: NodeId; peer: NodeId; ok: boolean }
  | { k: 'unreachable'; at: NodeId; peer: NodeId }
  | { k: 'world' }
  | { k: 'restart'; id: NodeId };

/** Uncommitted entries at the leader beyond which the simulated clients hold back. */
const MAX_BACKLOG = 30;
const MARKER = 0x4c; // 'L': a liveness marker proposal

export function runSeed(seed: number, opts: Partial<SimOptions> = {}): SeedResult {
  return new World(seed, { ...DEFAULT_OPTIONS, ...opts }).run();
}

class World {
  private readonly prng: Prng;
  private readonly netRand: Prng;
  private readonly params: SeedParams;
  private readonly checker = new Checker(1, 1);
  private readonly stats = emptyStats();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly queue = new EventQueue<Ev>();
  private readonly faults: Faults;
  private now = 0;
  private steps = 0;
  private tickNo = 0;
  private healed = false;
  private nextId: bigint;
  private spawned = 0;
  private proposals = 0;
  private readonly members = new Set<NodeId>();
  private readonly toDecommission: NodeId[] = [];
  private readonly markers = new Map<string, Set<NodeId>>();
  private lastMarkerTick = -1_000;
  private lastConfIndex = 0;
  private healedAfter: number | undefined = undefined;
  private done = false;
  private liveness: string | undefined = undefined;
  private readonly env: NodeEnv;
  private readonly trace: ((line: string) => void) | undefined;

  constructor(
    private readonly seed: number,
    private readonly opts: SimOptions,
  ) {
    this.prng = new Prng(seed);
    this.params = drawParams(this.prng);
    this.netRand = this.prng.fork();
    this.faults = new Faults(this.prng.fork(), this.params);
    const out = opts.trace;
    this.trace =
      out === undefined ? undefined : (l: string): void => out(`${(this.now / TICK).toFixed(1)} ${l}`);
    this.nextId = BigInt(opts.nodes) + 1n;
    this.env = {
      checker: this.checker,
      stats: this.stats,
      knobs: this.params.knobs,
      compactEvery: this.params.compactEvery,
      compactKeep: this.params.compactKeep,
      sabotage: opts.sabotage,
      trace: this.trace,
      crashBeforeSync: (n) => {
        const frac = this.faults.tornWrite();
        if (frac !== undefined) {
          this.stats.tornWrites++;
          this.scheduleRestart(n);
        }
        return frac;
      },
      send: (m) => this.send(m),
      onApplied: (n, e) => this.onApplied(n, e),
      onConfApplied: (_n, cs, index) => this.onConfApplied(cs, index),
    };
  }

  run(): SeedResult {
    this.trace?.(`seed ${this.seed}: ${this.opts.nodes} nodes; ${describeParams(this.params)}`);
    try {
      this.boot();
    } catch (e) {
      this.panic(e);
    }
    while (!this.done && this.checker.ok) {
      const it = this.queue.pop();
      if (it === undefined) break;
      this.now = it.t;
      this.steps++;
      try {
        this.handle(it.ev);
        while (this.toDecommission.length > 0) this.decommission(this.toDecommission.shift()!);
      } catch (e) {
        this.panic(e);
      }
    }
    const r: SeedResult = { seed: this.seed, steps: this.steps, ticks: this.tickNo, stats: this.stats };
    if (!this.checker.ok) r.violation = this.checker.violations[0]!;
    else if (this.liveness !== undefined) r.liveness = this.liveness;
    if (this.healedAfter !== undefined) r.healTicks = this.healedAfter;
    return r;
  }

  private panic(e: unknown): void {
    const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
    this.trace?.(`PANIC ${msg}`);
    this.checker.violations.push(`panic: ${msg}`);
  }

  private boot(): void {
    const voters: NodeId[] = [];
    for (let i = 1; i <= this.opts.nodes; i++) voters.push(BigInt(i));
    const cs: ConfState = { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const sm0 = new StateMachine();
    for (const id of voters) {
      const disk = SimDisk.bootstrap(
        { data: sm0.encode(), metadata: { index: 1, term: 1, confState: cs } },
        { term: 1, vote: 0n, commit: 1 },
      );
      const n = this.addNode(id, disk);
      n.sm.appliedIndex = 1;
      n.sm.appliedTerm = 1;
      n.sm.confState = cs;
      this.members.add(id);
    }
    for (const n of this.nodes.values()) this.startNode(n);
    this.queue.push(0, { k: 'world' });
  }

  private addNode(id: NodeId, disk: SimDisk): SimNode {
    const n = new SimNode(id, disk, this.prng.fork(), this.env);
    this.nodes.set(id, n);
    return n;
  }

  private scheduleRestart(n: SimNode): void {
    const [lo, hi] = this.params.downTicks;
    this.queue.push(this.now + this.prng.range(lo, hi) * TICK, { k: 'restart', id: n.id });
  }

  private startNode(n: SimNode): void {
    n.start();
    this.queue.push(this.now + 1 + this.prng.intn(TICK), { k: 'tick', id: n.id, inc: n.incarnation });
    n.handleReady();
  }

  private handle(ev: Ev): void {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes.get(ev.id);
        if (n?.rn === undefined || n.incarnation !== ev.inc) return;
        n.rn.tick();
        n.handleReady();
        this.queue.push(this.now + TICK, ev);
        return;
      }
      case 'msg':
        return this.deliver(ev.m);
      case 'snapStatus': {
        const n = this.nodes.get(ev.leader);
        if (n?.rn === undefined) return;
        this.trace?.(`${ev.leader} report snapshot to ${ev.peer} ${ev.ok ? 'finished' : 'failed'}`);
        n.rn.reportSnapshot(ev.peer, ev.ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
        n.handleReady();
        return;
      }
      case 'unreachable': {
        const n = this.nodes.get(ev.at);
        if (n?.rn === undefined) return;
        n.rn.reportUnreachable(ev.peer);
        n.handleReady();
        return;
      }
      case 'restart': {
        const n = this.nodes.get(ev.id);
        if (n === undefined || n.up || n.decommissioned) return;
        this.startNode(n);
        return;
      }
      case 'world':
        this.worldTick();
        this.queue.push(this.now + TICK, ev);
        return;
    }
  }

  private send(m: Message): void {
    // A real network copies: nothing the receiver does may alias the sender's objects.
    const copy: Message = { ...m, entries: m.entries.map((e) => ({ ...e })) };
    const why = this.healed ? undefined : this.faults.dropReason(m.from, m.to);
    if (why !== undefined) {
      this.stats.dropped++;
      this.trace?.(`drop(${why}) ${describeMessage(m)}`);
      if (m.type === MessageType.MsgSnap) this.snapStatusLater(m, false);
      if (why === 'partition' && m.type === MessageType.MsgApp) {
        this.queue.push(this.now + 1, { k: 'unreachable', at: m.from, peer: m.to });
      }
      return;
    }
    this.queue.push(this.now + this.faults.delay(this.netRand, this.healed), { k: 'msg', m: copy });
    if (this.faults.duplicate(this.netRand)) {
      this.stats.duplicated++;
      this.queue.push(this.now + this.faults.delay(this.netRand, this.healed), { k: 'msg', m: copy });
    }
  }

  private snapStatusLater(m: Message, ok: boolean): void {
    this.queue.push(this.now + this.faults.delay(this.netRand, this.healed), {
      k: 'snapStatus',
      leader: m.from,
      peer: m.to,
      ok,
    });
  }

  private deliver(m: Message): void {
    const n = this.nodes.get(m.to);
    if (n?.rn === undefined) {
      this.trace?.(`drop(down) ${describeMessage(m)}`);
      if (m.type === MessageType.MsgSnap) this.snapStatusLater(m, false);
      return;
    }
    this.trace?.(`deliver ${describeMessage(m)}`);
    this.stats.delivered++;
    if (m.type === MessageType.MsgSnap) this.stats.snapshotsSent++;
    try {
      n.rn.step(m);
    } catch (e) {
      // A forwarded proposal the leader cannot take is dropped, as etcd's node does.
      if (!(e instanceof ErrStepPeerNotFound) && !(e instanceof ErrProposalDropped)) throw e;
    }
    if (m.type === MessageType.MsgSnap) this.snapStatusLater(m, true);
    n.handleReady();
  }

  private onApplied(n: SimNode, e: Entry): void {
    if (e.data[0] !== MARKER) return;
    const key = new TextDecoder().decode(e.data);
    let s = this.markers.get(key);
    if (s === undefined) this.markers.set(key, (s = new Set()));
    s.add(n.id);
  }

  private onConfApplied(cs: ConfState, index: number): void {
    // Only the newest configuration counts: a lagging node applies old ones too.
    if (index <= this.lastConfIndex) return;
    this.lastConfIndex = index;
    this.stats.confChanges++;
    const now = new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners, ...cs.learnersNext]);
    for (const id of now) this.members.add(id);
    for (const id of this.members) {
      const n = this.nodes.get(id);
      if (!now.has(id) && n !== undefined && !n.decommissioned && !this.toDecommission.includes(id)) {
        this.toDecommission.push(id);
      }
    }
  }

  /** A member removed from the configuration shuts down for good (as an etcd member does). */
  private decommission(id: NodeId): void {
    const n = this.nodes.get(id);
    if (n === undefined || n.decommissioned) return;
    n.decommissioned = true;
    this.trace?.(`${id} decommissioned (removed from the configuration)`);
    if (n.up) {
      n.disk.sync();
      n.crash(0);
    }
  }

  private liveNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.up) out.push(n);
    return out;
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.rn !== undefined && n.isLeader && (best === undefined || n.rn.raft.term > best.rn!.raft.term))
        best = n;
    }
    return best;
  }

  private worldTick(): void {
    this.tickNo++;
    if (!this.healed && this.tickNo > this.opts.chaosTicks) this.heal();
    if (this.healed) this.checkLiveness();
    else this.chaos();
  }

  private chaos(): void {
    const p = this.prng;
    const f = this.faults.step(
      this.tickNo,
      this.liveNodes().map((n) => n.id),
    );
    if (f !== undefined) {
      if (f.startsWith('partition {') || f.startsWith('one-way') || f.startsWith('links'))
        this.stats.partitions++;
      this.trace?.(f);
    }
    if (p.chance(this.params.crashRate)) {
      const cands = this.liveNodes();
      if (cands.length > 0) {
        const n = p.pick(cands);
        n.crash(p.intn(n.disk.pendingOps() + 1));
        this.scheduleRestart(n);
      }
    }
    const rate = this.params.proposeRate;
    const k = Math.floor(rate) + (p.chance(rate - Math.floor(rate)) ? 1 : 0);
    // Clients with bounded in-flight requests: no new work while the leader's uncommitted tail is long.
    const ld0 = this.leader();
    const backlog =
      ld0?.rn === undefined ? 0 : ld0.disk.mem.lastIndex() - ld0.rn.basicStatus().hardState.commit;
    for (let i = 0; i < k && backlog < MAX_BACKLOG; i++) {
      const live = this.liveNodes();
      if (live.length === 0) break;
      const ld = this.leader();
      const n = ld !== undefined && p.chance(0.6) ? ld : p.pick(live);
      this.propose(n, `v${++this.proposals}`);
    }
    if (p.chance(this.params.confRate)) this.proposeConfChange();
    if (p.chance(0.01)) {
      // An operator forcing an election, or a follower told its leader is gone.
      const live = this.liveNodes();
      if (live.length > 0) {
        const n = p.pick(live);
        const forget = p.chance(0.5);
        this.trace?.(`${n.id} ${forget ? 'forget leader' : 'campaign'}`);
        if (forget) n.rn!.forgetLeader();
        else n.rn!.campaign();
        n.handleReady();
      }
    }
    if (p.chance(this.params.transferRate)) {
      const ld = this.leader();
      if (ld?.rn !== undefined) {
        const others = ld.sm.confState.voters.filter((id) => id !== ld.id);
        if (others.length > 0) {
          const to = p.pick(others);
          this.trace?.(`${ld.id} transfer leadership to ${to}`);
          ld.rn.transferLeader(to);
          this.stats.transfers++;
          ld.handleReady();
        }
      }
    }
  }

  private propose(n: SimNode, data: string): boolean {
    if (n.rn === undefined) return false;
    try {
      n.rn.propose(new TextEncoder().encode(data));
      this.trace?.(`${n.id} propose "${data}"`);
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
      this.trace?.(`${n.id} propose "${data}" dropped`);
      return false;
    } finally {
      n.handleReady();
    }
    return true;
  }

  private proposeConfChange(): void {
    const ld = this.leader();
    if (ld?.rn === undefined) return;
    const maxVoters = this.opts.nodes + 2;
    const cc = chooseConfChange(this.prng, ld.sm.confState, {
      maxVoters,
      maxLearners: 2,
      newId: () => {
        if (this.spawned >= 4) return undefined;
        this.spawned++;
        const id = this.nextId++;
        const n = this.addNode(id, new SimDisk());
        this.trace?.(`${id} spawned (empty)`);
        this.startNode(n);
        return id;
      },
    });
    if (cc === undefined) return;
    this.trace?.(
      `${ld.id} propose conf change ${JSON.stringify(cc, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`,
    );
    try {
      ld.rn.proposeConfChange(cc);
    } catch (e) {
      if (!(e instanceof ErrProposalDropped)) throw e;
      this.trace?.(`${ld.id} conf change dropped`);
    }
    ld.handleReady();
  }

  private heal(): void {
    this.healed = true;
    this.faults.healAll();
    this.trace?.(`heal: no more loss, partitions or crashes; all nodes up`);
    for (const n of this.nodes.values()) if (!n.up && !n.decommissioned) this.startNode(n);
  }

  private checkLiveness(): void {
    const since = this.tickNo - this.opts.chaosTicks;
    // The configuration of the most advanced state machine names the voters that must all apply.
    let ref: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.decommissioned && (ref === undefined || n.sm.appliedIndex > ref.sm.appliedIndex)) ref = n;
    }
    const cs = ref!.sm.confState;
    const voters = [...new Set([...cs.voters, ...cs.votersOutgoing])];
    for (const [, s] of this.markers) {
      if (voters.every((v) => s.has(v))) {
        this.trace?.(`liveness ok after ${since} healed ticks`);
        this.healedAfter = since;
        this.done = true;
        return;
      }
    }
    if (since > this.opts.healTicks) {
      const st = [...this.nodes.values()]
        .filter((n) => !n.decommissioned)
        .map((n) => {
          const r = n.rn?.raft;
          return `${n.id}:${r === undefined ? 'down' : `term ${r.term} commit ${r.raftLog.committed} lead ${r.lead}`} applied ${n.sm.appliedIndex}`;
        });
      this.liveness = `no proposal applied on all voters [${voters.join(' ')}] within ${this.opts.healTicks} ticks of healing (${st.join('; ')})`;
      this.done = true;
      return;
    }
    const ld = this.leader();
    if (ld?.rn === undefined) return;
    if (ld.sm.confState.votersOutgoing.length > 0 && !ld.sm.confState.autoLeave && since % 5 === 0) {
      this.proposeConfChange();
    }
    if (this.tickNo - this.lastMarkerTick >= 3 * ELECTION_TICK) {
      if (this.propose(ld, `L${this.tickNo}`)) this.lastMarkerTick = this.tickNo;
    }
  }
}
