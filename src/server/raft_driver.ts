// The loop that moves proposals through the log, in DESIGN.md's order for every batch:
//   1. append the entries and the hard state to the WAL with ONE fdatasync (group commit)
//   2. send messages to peers (none yet: a single voter)
//   3. apply the committed entries, in order, then commit the backend batch once
//   4. advance
// Everything proposed while a batch is on its way to disk becomes the next batch.
// This is the single-voter log; the raft core's RawNode takes over steps 1-2 for clusters.
import type { Entry, HardState, Wal } from '../wal/wal.ts';

export interface DriverDeps {
  wal: Wal;
  /** Applies committed entries in order (one backend batch for all of them). */
  apply(entries: Entry[]): void;
  /** Fail-stop: a durability error means this member must not go on. */
  fatal(err: unknown): void;
}

const MAX_BATCH = 4096;

export class RaftDriver {
  private queue: Uint8Array[] = [];
  private running = false;
  private stopped = false;
  private idle: Array<() => void> = [];
  private hardState: HardState;
  private lastIndex: number;

  constructor(
    private readonly deps: DriverDeps,
    state: { hardState: HardState; lastIndex: number },
  ) {
    this.hardState = { ...state.hardState };
    this.lastIndex = state.lastIndex;
  }

  term(): number {
    return this.hardState.term;
  }

  committedIndex(): number {
    return this.hardState.commit;
  }

  /** Starts a new term (a single voter elects itself) and makes it durable. */
  async campaign(selfId: bigint): Promise<void> {
    this.hardState = { term: this.hardState.term + 1, vote: selfId, commit: this.hardState.commit };
    await this.deps.wal.save(this.hardState, []);
  }

  propose(data: Uint8Array): void {
    if (this.stopped) throw new Error('raft driver stopped');
    this.queue.push(data);
    if (!this.running) {
      this.running = true;
      setImmediate(() => void this.run());
    }
  }

  pending(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or in flight. */
  drain(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  stop(): void {
    this.stopped = true;
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= MAX_BATCH ? this.queue : this.queue.slice(0, MAX_BATCH);
        this.queue = this.queue.length <= MAX_BATCH ? [] : this.queue.slice(MAX_BATCH);
        const term = this.hardState.term;
        const entries: Entry[] = batch.map((data) => ({ index: ++this.lastIndex, term, data }));
        const hs = { ...this.hardState, commit: this.lastIndex };
        await this.deps.wal.save(hs, entries); // 1
        this.hardState = hs;
        this.deps.apply(entries); // 3
      }
    } catch (err) {
      this.stopped = true;
      this.deps.fatal(err);
      return;
    } finally {
      this.running = false;
      for (const r of this.idle.splice(0)) r();
    }
  }
}
