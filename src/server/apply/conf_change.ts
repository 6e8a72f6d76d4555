// Applying a committed conf change (etcd's applyConfChange): the membership store takes it, unless a
// replay finds its effect already stored; raft takes it always (raft rebuilds its configuration from
// the log on every start); the peer connections follow the member set.
import type { Logger } from 'pino';
import {
  ConfChangeType,
  NONE,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
} from '../../raft/index.ts';
import { unmarshalConfChange } from '../../raft/raftpb_codec.ts';
import type { RaftCluster } from '../../membership/cluster.ts';
import { idHex } from '../../pkg/ids.ts';
import type { Proposer } from '../propose.ts';
import type { Stores } from '../stores.ts';

/** What applying a conf change needs of the raft node. */
export interface ConfChangeRaft {
  applyConfChange(cc: ConfChange): ConfState;
  isLeader(): boolean;
}

/** What applying a conf change needs of the peer connections. */
export interface ConfChangePeers {
  /** The last heartbeat for a member being removed (taken before raft forgets its progress). */
  finalHeartbeat(id: bigint): Message;
  send(msgs: Message[]): void;
  /** Connects to an added member, disconnects a removed one (and stops this one if it was removed). */
  onConfChange(cc: ConfChange): void;
}

export interface ConfChangeDeps {
  stores: Stores;
  proposer: Proposer;
  raft: ConfChangeRaft;
  peers: ConfChangePeers;
  memberId: bigint;
  log: Logger;
}

/** `stored`: a replayed entry whose effect the backend already holds. */
export function applyConfChange(d: ConfChangeDeps, e: Entry, stored: boolean): void {
  const cc = unmarshalConfChange(e.type, e.data);
  if ('transition' in cc) throw new Error('apply: ConfChangeV2 is not proposed by tetcd');
  const cluster = d.stores.cluster;
  const waiter = d.proposer.take(cc.id);
  let forRaft: ConfChange = cc;
  if (!stored) {
    const out = cluster.applyConfChange(cc);
    d.stores.kv.setConsistentIndex(e.index, e.term);
    if (out.ok) {
      d.log.info(
        { kind: out.kind, member: idHex(out.member.id), 'peer-urls': out.member.peerURLs },
        'applied a membership change',
      );
      waiter?.resolve(out.member);
    } else {
      forRaft = { ...cc, nodeId: NONE };
      waiter?.reject(out.error);
    }
  } else if (!replayedChangeHeld(cc, cluster)) {
    forRaft = { ...cc, nodeId: NONE };
  }
  // The leader stops talking to a member once its removal applies, so the member might never learn
  // that the removal committed: one last heartbeat carries the commit index to it (etcd's peers answer
  // a removed member with "removed" instead).
  const removedPeer = forRaft.type === ConfChangeType.ConfChangeRemoveNode && forRaft.nodeId !== NONE;
  const lastWord =
    removedPeer && d.raft.isLeader() && forRaft.nodeId !== d.memberId
      ? d.peers.finalHeartbeat(forRaft.nodeId)
      : undefined;
  d.raft.applyConfChange(forRaft);
  if (lastWord) d.peers.send([lastWord]);
  d.peers.onConfChange(forRaft);
}

/** On replay, raft takes a conf change only if the stored membership shows it took effect. */
function replayedChangeHeld(cc: ConfChange, cluster: RaftCluster): boolean {
  if (cc.type === ConfChangeType.ConfChangeRemoveNode) return cluster.isRemoved(cc.nodeId);
  return cluster.has(cc.nodeId);
}
