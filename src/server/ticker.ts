// How many raft ticks each firing of the Ready loop's tick timer is worth.
//
// Ticks follow a fixed schedule on the monotonic clock (one every heartbeat interval from the start),
// as etcd's Go ticker does: a firing that comes late because the loop was busy gets the tick it
// missed too, so a loaded member's raft clock does not slow down (Node's setInterval drifts). Like
// Go's ticker, whose channel holds a single tick, a firing is worth at most two: ticks missed while
// the whole process stood still (a GC pause, a paused VM, SIGSTOP) are dropped. Feeding them would
// run a leader's check-quorum and the followers' election timers over the whole stall before the
// messages waiting on the sockets are read, and every stall of the host would cost the leader (5
// stalls of 2 s took a 3-member cluster from term 2 to 7; etcd 3.4 kept term 2).
//
// Ticks missed while the member blocked its own loop in work it measured (beginWork/endWork: applying a
// snapshot from the leader, a second or more) are credited: that time really passed for the member
// and its peers alike. Otherwise a member that just applied a snapshot still believes a killed
// leader's lease, refuses the pre-vote and stretches the failover by an election timeout. A stall
// that lands inside measured work is credited too (the clock cannot tell them apart); the work is
// measured only around the snapshot apply, which is long and rare, never around the WAL writes and
// applies that fill a busy loop.
//
// `now` is injected for tests.

/** At most this many missed ticks are credited at once. */
export const MAX_CATCH_UP_TICKS = 100;

/** A late firing delivers the tick it is late for too, but no more (Go's ticker buffers one). */
const MAX_TICKS_PER_FIRING = 2;

export class Ticker {
  private readonly start: number;
  /** The schedule slot of the last firing: slot k starts at start + k * interval. */
  private slot = 0;
  /** Measured work time since the last firing (closed intervals). */
  private workMs = 0;
  /** Start of the open work interval (clipped to the last firing), undefined outside work. */
  private workSince: number | undefined;
  private depth = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {
    this.start = now();
  }

  /** The member starts blocking work of its own (nests with endWork). */
  beginWork(): void {
    if (this.depth++ === 0) this.workSince = this.now();
  }

  endWork(): void {
    if (this.depth === 0) return;
    if (--this.depth === 0) {
      this.workMs += this.now() - this.workSince!;
      this.workSince = undefined;
    }
  }

  /**
   * The timer fired: the ticks it is worth, split into `now` (the schedule's ticks since the last
   * firing, at most two; fed after the messages received meanwhile) and `catchUp` (ticks beyond those
   * missed during the member's own work; fed before those messages, which arrived after them).
   */
  fire(): { catchUp: number; now: number } {
    const t = this.now();
    let work = this.workMs;
    if (this.workSince !== undefined) {
      work += t - this.workSince;
      this.workSince = t;
    }
    this.workMs = 0;
    const slot = Math.floor((t - this.start) / this.intervalMs);
    const due = Math.max(0, slot - this.slot);
    this.slot = Math.max(slot, this.slot);
    const now = Math.min(due, MAX_TICKS_PER_FIRING);
    const catchUp = Math.min(due - now, Math.floor(work / this.intervalMs), MAX_CATCH_UP_TICKS);
    return { catchUp, now };
  }
}
