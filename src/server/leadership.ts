// Leadership as the member sees it (etcd's updateLead/updateLeadership, MoveLeader and the transfer
// before a graceful stop): role changes are logged as etcd logs them, fail the read-index round in
// flight, and take lease expiry away from a member that stops leading; leadership is handed over on
// request.
import type { Logger } from 'pino';
import { NONE, StateType, type SoftState } from '../raft/index.ts';
import { idHex } from '../pkg/ids.ts';
import { counts } from '../pkg/metrics.ts';
import { ErrBadLeaderTransferee, ErrNotLeader, ErrTimeoutLeaderTransfer } from './errors.ts';

/** What leadership needs of the raft node. */
export interface LeaderRaft {
  lead(): bigint;
  isLeader(): boolean;
  soleVoter(): boolean;
  voters(): bigint[];
  matchOf(id: bigint): number;
  transferLeader(to: bigint): void;
  isStopped(): boolean;
}

export interface LeadershipDeps {
  raft: LeaderRaft;
  /** The read-index round in flight fails when a new leader appears ("leader changed"). */
  reads: { onLeaderChange(): void };
  /** A member that stops leading stops expiring leases. */
  lessor: { demote(): void };
  memberId: bigint;
  electionMs: number;
  log: Logger;
}

export class Leadership {
  private lead: bigint = NONE;
  private wasLeader = false;

  constructor(private readonly deps: LeadershipDeps) {}

  /** From the Ready loop, when the soft state changed. */
  onSoftState(ss: SoftState, term: number): void {
    const { deps } = this;
    const me = idHex(deps.memberId);
    if (ss.lead !== this.lead) {
      if (ss.lead === NONE) {
        deps.log.info(
          { 'local-member-id': me, 'lost-leader': idHex(this.lead), term },
          'raft.node: lost leader',
        );
      } else {
        deps.log.info({ 'local-member-id': me, leader: idHex(ss.lead), term }, 'raft.node: elected leader');
        counts.leaderChanges++;
      }
      this.lead = ss.lead;
      // As etcd (its leaderChanged notification): reads in flight fail when a new leader appears, not
      // when the old one is lost; until then they keep asking, and time out if none comes.
      if (ss.lead !== NONE) deps.reads.onLeaderChange();
    }
    const leader = ss.raftState === StateType.StateLeader;
    if (leader && !this.wasLeader) {
      deps.log.info({ 'local-member-id': me, term }, 'became leader');
    } else if (!leader && this.wasLeader) {
      deps.log.info({ 'local-member-id': me, term, role: StateType[ss.raftState] }, 'stepped down as leader');
      deps.lessor.demote();
    }
    this.wasLeader = leader;
  }

  /** MoveLeader: only the leader may hand over, and only to a voter. */
  async moveLeader(target: bigint): Promise<void> {
    const { raft } = this.deps;
    if (!raft.isLeader()) throw new ErrNotLeader();
    if (!raft.voters().includes(target)) throw new ErrBadLeaderTransferee();
    if (target === this.deps.memberId) return;
    await this.transfer(target, Math.max(5000, 2 * this.deps.electionMs));
  }

  /** Before a graceful stop the leader hands over to the most caught-up voter. */
  async transferBeforeStop(): Promise<void> {
    const { raft } = this.deps;
    if (!raft.isLeader() || raft.soleVoter()) return;
    let best: bigint | undefined;
    let bestMatch = -1;
    for (const v of raft.voters()) {
      if (v === this.deps.memberId) continue;
      const m = raft.matchOf(v);
      if (m > bestMatch) [best, bestMatch] = [v, m];
    }
    if (best === undefined) return;
    try {
      await this.transfer(best, this.deps.electionMs * 2);
    } catch (err) {
      this.deps.log.warn({ err }, 'leadership transfer before stopping failed');
    }
  }

  private async transfer(target: bigint, timeoutMs: number): Promise<void> {
    const { raft } = this.deps;
    raft.transferLeader(target);
    const until = performance.now() + timeoutMs;
    while (raft.lead() !== target) {
      if (performance.now() > until || raft.isStopped()) throw new ErrTimeoutLeaderTransfer();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.deps.log.info({ from: idHex(this.deps.memberId), to: idHex(target) }, 'leadership transferred');
  }
}
