// Random membership changes that keep the cluster able to make progress once faults heal: at least three
// voters in every configuration, a bounded number of voters and learners, fresh IDs for new members.
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
  type ConfState,
  type NodeId,
} from '../raftpb.ts';
import type { Prng } from './prng.ts';

export const MIN_VOTERS = 3;

export interface MembershipLimits {
  maxVoters: number;
  maxLearners: number;
  /** A fresh node ID (the caller starts an empty node for it), or undefined when no more may be made. */
  newId(): NodeId | undefined;
}

const EMPTY = new Uint8Array(0);

/** A change to propose at a leader whose applied configuration is cs, or undefined. */
export function chooseConfChange(
  p: Prng,
  cs: ConfState,
  lim: MembershipLimits,
): ConfChange | ConfChangeV2 | undefined {
  if (cs.votersOutgoing.length > 0) {
    // Joint: the only thing to do is leave it (raft itself does when autoLeave is set).
    if (cs.autoLeave) return undefined;
    return { transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: EMPTY };
  }
  const voters = cs.voters;
  const learners = cs.learners;
  const add = (type: ConfChangeType, nodeId: NodeId): ConfChangeSingle => ({ type, nodeId });
  const kinds: string[] = [];
  if (voters.length < lim.maxVoters) kinds.push('addVoter');
  if (learners.length < lim.maxLearners) kinds.push('addLearner');
  if (learners.length > 0 && voters.length < lim.maxVoters) kinds.push('promote');
  if (voters.length > MIN_VOTERS) kinds.push('removeVoter', 'removeVoter');
  if (learners.length > 0) kinds.push('removeLearner');
  kinds.push('replaceVoter');
  if (learners.length > 0) kinds.push('swapLearner');
  if (learners.length < lim.maxLearners) kinds.push('demoteAndAdd');
  const kind = p.pick(kinds);
  let changes: ConfChangeSingle[];
  switch (kind) {
    case 'addVoter':
    case 'addLearner': {
      const id = lim.newId();
      if (id === undefined) return undefined;
      const t =
        kind === 'addVoter' ? ConfChangeType.ConfChangeAddNode : ConfChangeType.ConfChangeAddLearnerNode;
      changes = [add(t, id)];
      break;
    }
    case 'promote':
      changes = [add(ConfChangeType.ConfChangeAddNode, p.pick(learners))];
      break;
    case 'removeVoter':
      changes = [add(ConfChangeType.ConfChangeRemoveNode, p.pick(voters))];
      break;
    case 'removeLearner':
      changes = [add(ConfChangeType.ConfChangeRemoveNode, p.pick(learners))];
      break;
    case 'replaceVoter': {
      const id = lim.newId();
      if (id === undefined) return undefined;
      changes = [
        add(ConfChangeType.ConfChangeAddNode, id),
        add(ConfChangeType.ConfChangeRemoveNode, p.pick(voters)),
      ];
      break;
    }
    case 'swapLearner':
      changes = [
        add(ConfChangeType.ConfChangeAddNode, p.pick(learners)),
        add(ConfChangeType.ConfChangeRemoveNode, p.pick(voters)),
      ];
      break;
    default: {
      // Demote a voter to learner and add a fresh voter in its place (joint, with learnersNext).
      const id = lim.newId();
      if (id === undefined) return undefined;
      changes = [
        add(ConfChangeType.ConfChangeAddLearnerNode, p.pick(voters)),
        add(ConfChangeType.ConfChangeAddNode, id),
      ];
    }
  }
  if (changes.length === 1 && p.chance(0.5)) {
    const c = changes[0]!;
    return { type: c.type, nodeId: c.nodeId, context: EMPTY, id: BigInt(p.intn(1000)) };
  }
  const transition = p.pick([
    ConfChangeTransition.ConfChangeTransitionAuto,
    ConfChangeTransition.ConfChangeTransitionJointImplicit,
    ConfChangeTransition.ConfChangeTransitionJointExplicit,
  ]);
  return { transition, changes, context: EMPTY };
}
