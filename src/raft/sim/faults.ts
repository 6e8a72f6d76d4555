// The network's and disks' misbehaviour for one seed: loss, duplication, delay spikes (reordering),
// symmetric and one-way partitions that come and go, and torn writes at fsync time.
import type { NodeId } from '../raftpb.ts';
import type { SeedParams } from './params.ts';
import type { Prng } from './prng.ts';

export class Faults {
  /** Directed links that drop everything: "from>to". */
  private blocked = new Set<string>();
  private partitionUntil = 0;
  private loss: number;
  private spike: number;
  private torn: number;

  constructor(
    private readonly p: Prng,
    private readonly params: SeedParams,
  ) {
    this.loss = params.loss;
    this.spike = params.spike;
    this.torn = params.tornWriteRate;
  }

  /** Why a message from -> to is lost, if it is. */
  dropReason(from: NodeId, to: NodeId): 'partition' | 'loss' | undefined {
    if (this.blocked.size > 0 && this.blocked.has(`${from}>${to}`)) return 'partition';
    if (this.loss > 0 && this.p.chance(this.loss)) return 'loss';
    return undefined;
  }

  delay(r: Prng, healed: boolean): number {
    const d = r.range(this.params.minDelay, this.params.maxDelay);
    if (!healed && this.spike > 0 && r.chance(this.spike)) return d * r.range(2, 10);
    return d;
  }

  duplicate(r: Prng): boolean {
    return this.params.dup > 0 && r.chance(this.params.dup);
  }

  /** A crash between writes and fsync: the fraction of the unsynced writes that land, or undefined. */
  tornWrite(): number | undefined {
    if (this.torn > 0 && this.p.chance(this.torn)) return this.p.float();
    return undefined;
  }

  /** Once per world tick: partitions end and begin. Returns a trace line when something changed. */
  step(tickNo: number, ids: NodeId[]): string | undefined {
    if (this.blocked.size > 0) {
      if (tickNo < this.partitionUntil) return undefined;
      this.blocked.clear();
      return 'partition healed';
    }
    if (ids.length < 2 || !this.p.chance(this.params.partitionRate)) return undefined;
    const [lo, hi] = this.params.partitionTicks;
    this.partitionUntil = tickNo + this.p.range(lo, hi);
    const kind = this.p.intn(3);
    if (kind === 0) {
      // Symmetric split into two non-empty sides.
      const side = new Set<NodeId>();
      const shuffled = ids.map((id) => [this.p.next(), id] as const);
      shuffled.sort((a, b) => a[0] - b[0]);
      const k = 1 + this.p.intn(ids.length - 1);
      for (let i = 0; i < k; i++) side.add(shuffled[i]![1]);
      for (const a of ids)
        for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(`${a}>${b}`);
      return `partition {${[...side].join(' ')}} | {${ids.filter((x) => !side.has(x)).join(' ')}}`;
    }
    const x = this.p.pick(ids);
    if (kind === 1) {
      // One node can send but not receive (or the reverse).
      const inbound = this.p.chance(0.5);
      for (const y of ids) if (y !== x) this.blocked.add(inbound ? `${y}>${x}` : `${x}>${y}`);
      return `one-way partition: ${inbound ? `nothing reaches ${x}` : `nothing leaves ${x}`}`;
    }
    // Random directed links down.
    const links: string[] = [];
    for (const a of ids) {
      for (const b of ids) {
        if (a !== b && this.p.chance(0.3)) {
          this.blocked.add(`${a}>${b}`);
          links.push(`${a}>${b}`);
        }
      }
    }
    return `links down: ${links.join(' ')}`;
  }

  healAll(): void {
    this.blocked.clear();
    this.loss = 0;
    this.spike = 0;
    this.torn = 0;
  }
}
