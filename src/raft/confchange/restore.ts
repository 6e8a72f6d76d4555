// Rebuilds a tracker config from a ConfState (snapshot or restart) by replaying it as ordinary
// config changes on an empty config, so the same validation applies as for live changes.
import { type ConfChangeSingle, ConfChangeType, type ConfState } from '../raftpb.ts';
import { Changer, type ConfigAndProgress } from './confchange.ts';

// Two lists: `outgoing` builds the (to be) outgoing voters as a plain config; `incoming` applied on top of
// that while entering the joint state yields the ConfState. Example: voters=(1 2 3) outgoing=(1 2 4 6)
// learners=(5) learners_next=(4): outgoing = add 1,2,4,6; incoming = remove 1,2,4,6, add 1,2,3,
// add-learner 5, add-learner 4 (4 is still an outgoing voter, so it lands in learnersNext).
function toConfChangeSingle(cs: ConfState): { outgoing: ConfChangeSingle[]; incoming: ConfChangeSingle[] } {
  const add = ConfChangeType.ConfChangeAddNode;
  const outgoing = cs.votersOutgoing.map((nodeId) => ({ type: add, nodeId }));
  const incoming: ConfChangeSingle[] = [
    ...cs.votersOutgoing.map((nodeId) => ({ type: ConfChangeType.ConfChangeRemoveNode, nodeId })),
    ...cs.voters.map((nodeId) => ({ type: add, nodeId })),
    ...cs.learners.map((nodeId) => ({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId })),
    ...cs.learnersNext.map((nodeId) => ({ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId })),
  ];
  return { outgoing, incoming };
}

/**
 * Enacts `cs` starting from the changer's config, which must be empty. Returns the resulting config and
 * progress; throws ConfChangeError if the ConfState is not a legal config.
 */
export function restore(chg: Changer, cs: ConfState): ConfigAndProgress {
  const { outgoing, incoming } = toConfChangeSingle(cs);
  let cur = chg;
  const step = (r: ConfigAndProgress) => {
    cur = new Changer(r, chg.lastIndex, chg.maxInflight, chg.maxInflightBytes);
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) step(cur.simple(cc));
  } else {
    // Build the outgoing voters one at a time, then enter the joint state with the incoming changes.
    for (const cc of outgoing) step(cur.simple(cc));
    step(cur.enterJoint(cs.autoLeave, ...incoming));
  }
  // Always hand back copies, even for an empty ConfState (no changes ran).
  return cur === chg ? chg.checkAndCopy() : cur.tracker;
}
