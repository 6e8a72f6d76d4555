// Conversions between ConfChange (v1) and ConfChangeV2, the joint-consensus reading of a
// ConfChangeV2, and etcd's compact text form of change lists ("v1 l2 r3 u4") used by tests.
import {
  type ConfChange,
  type ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  type ConfChangeV2,
} from '../raftpb.ts';

export function isConfChangeV1(cc: ConfChange | ConfChangeV2): cc is ConfChange {
  return 'nodeId' in cc;
}

/** A v1 change as the equivalent single-change ConfChangeV2 (auto transition); a v2 change as is. */
export function confChangeAsV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  if (!isConfChangeV1(cc)) return cc;
  return {
    transition: ConfChangeTransition.ConfChangeTransitionAuto,
    changes: [{ type: cc.type, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

/**
 * Whether applying cc enters a joint config (an explicit transition, or more than one change), and if
 * so whether raft leaves it by itself (autoLeave) or waits for an explicit empty ConfChangeV2.
 */
export function enterJoint(cc: ConfChangeV2): { autoLeave: boolean; ok: boolean } {
  if (cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length <= 1) {
    return { autoLeave: false, ok: false };
  }
  switch (cc.transition) {
    case ConfChangeTransition.ConfChangeTransitionAuto:
    case ConfChangeTransition.ConfChangeTransitionJointImplicit:
      return { autoLeave: true, ok: true };
    case ConfChangeTransition.ConfChangeTransitionJointExplicit:
      return { autoLeave: false, ok: true };
    default:
      throw new Error(`unknown transition: ${String(cc.transition)}`);
  }
}

/** An empty ConfChangeV2 (auto transition, no changes; context ignored) means "leave the joint config". */
export function leaveJoint(cc: ConfChangeV2): boolean {
  return cc.transition === ConfChangeTransition.ConfChangeTransitionAuto && cc.changes.length === 0;
}

const LETTER: Record<ConfChangeType, string> = {
  [ConfChangeType.ConfChangeAddNode]: 'v',
  [ConfChangeType.ConfChangeAddLearnerNode]: 'l',
  [ConfChangeType.ConfChangeRemoveNode]: 'r',
  [ConfChangeType.ConfChangeUpdateNode]: 'u',
};

const BY_LETTER: Record<string, ConfChangeType> = {
  v: ConfChangeType.ConfChangeAddNode,
  l: ConfChangeType.ConfChangeAddLearnerNode,
  r: ConfChangeType.ConfChangeRemoveNode,
  u: ConfChangeType.ConfChangeUpdateNode,
};

const MAX_U64 = (1n << 64n) - 1n;

/** Parses "v1 l2 r3 u4" (voter, learner, remove, update; ids are uint64 decimal). */
export function confChangesFromString(s: string): ConfChangeSingle[] {
  const out: ConfChangeSingle[] = [];
  for (const tok of s.split(/\s+/)) {
    if (tok === '') continue;
    const type = BY_LETTER[tok[0] ?? ''];
    const digits = tok.slice(1);
    if (type === undefined || !/^[0-9]+$/.test(digits)) throw new Error(`unknown input: ${tok}`);
    const nodeId = BigInt(digits);
    if (nodeId > MAX_U64) throw new Error(`unknown input: ${tok}`);
    out.push({ type, nodeId });
  }
  return out;
}

/** The inverse of confChangesFromString. */
export function confChangesToString(ccs: readonly ConfChangeSingle[]): string {
  return ccs
    .map((cc) => {
      const letter = LETTER[cc.type];
      if (letter === undefined) throw new Error(`unknown conf change type: ${String(cc.type)}`);
      return `${letter}${cc.nodeId}`;
    })
    .join(' ');
}
