// --initial-election-tick-advance (etcd's adjustTicks): a member that starts among peers fast-forwards
// its election timer once it is connected to them, so that when no leader is there the first election
// comes after two ticks plus the randomized part instead of a whole election timeout. It waits for the
// connections first (up to 5 s, looking every 50 ms): advanced before the leader's heartbeat could
// arrive, a restarted member would campaign in the middle of a healthy cluster. As in etcd 3.4, it
// needs more than one connected peer, and turned off it changes nothing. A lone voter needs no
// advance: it campaigns at once (raft_node.ts).
import type { Logger } from 'pino';

/** etcd's rafthttp.ConnReadTimeout: how long to wait for the peer connections. */
export const TICK_ADVANCE_WAIT_MS = 5000;
/** How often the peer connections are looked at meanwhile. */
export const TICK_ADVANCE_POLL_MS = 50;

export interface TickAdvanceDeps {
  /** --initial-election-tick-advance. */
  enabled: boolean;
  electionTicks: number;
  /** Members of the cluster (this one included). */
  members(): number;
  /** Peers this member is connected to (this one not included). */
  activePeers(): number;
  /** Feeds `ticks` raft ticks at once. */
  advance(ticks: number): void;
  /** Resolves after `ms`, with false when the member is stopping. */
  wait(ms: number): Promise<boolean>;
  log: Logger;
}

/** Returns the ticks it advanced (0: none). */
export async function advanceInitialTicks(d: TickAdvanceDeps): Promise<number> {
  if (d.members() <= 1) return 0;
  if (!d.enabled) {
    d.log.info({ 'election-ticks': d.electionTicks }, 'skipping initial election tick advance');
    return 0;
  }
  d.log.info({ 'election-ticks': d.electionTicks }, 'starting initial election tick advance');
  for (let waited = 0; waited < TICK_ADVANCE_WAIT_MS; waited += TICK_ADVANCE_POLL_MS) {
    if (!(await d.wait(TICK_ADVANCE_POLL_MS))) return 0;
    const peers = d.activePeers();
    if (peers > 1) {
      const ticks = Math.max(0, d.electionTicks - 2);
      d.log.info(
        { 'forward-ticks': ticks, 'election-ticks': d.electionTicks, 'active-remote-members': peers },
        'initialized peer connections; fast-forwarding election ticks',
      );
      d.advance(ticks);
      return ticks;
    }
  }
  return 0;
}
