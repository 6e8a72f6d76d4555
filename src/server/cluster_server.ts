// The membership commands (api.ts's Cluster, etcd's AddMember/RemoveMember/... in server.go): checks with
// RaftCluster's validators, then a conf change through raft, answered once this member applies it.
import { encodeMemberContext, type Member } from '../membership/member.ts';
import { ConfChangeType, type ConfChange } from '../raft/index.ts';
import type { Cluster, ResponseHeaderFields } from './api.ts';
import type { Proposer } from './propose.ts';
import type { Stores } from './stores.ts';

/** What the membership commands need of the raft node. */
export interface ClusterRaft {
  proposeConfChange(cc: ConfChange, fail: (e: unknown) => void): void;
  isLeader(): boolean;
  matchOf(id: bigint): number;
  term(): number;
}

export interface ClusterServerDeps {
  /** `stores.cluster` is read on each call: a snapshot from the leader replaces the member set. */
  stores: Stores;
  raft: ClusterRaft;
  proposer: Proposer;
  /** For etcd's active-member checks before a change (server/peers.ts). */
  peers: { activePeers(): Set<bigint> };
  /** The ReadIndex barrier of a linearizable member list. */
  reads: { barrier(): Promise<void> | undefined };
  memberId: bigint;
}

export function clusterServerOf(d: ClusterServerDeps): Cluster {
  const { raft, peers } = d;
  const self = d.memberId;
  /** Proposes a conf change; resolves with the member it changed once applied here. */
  const proposeConfChange = (cc: Omit<ConfChange, 'id'>): Promise<Member> =>
    d.proposer.register<Member>((id) => {
      raft.proposeConfChange({ ...cc, id }, (err) => d.proposer.take(id)?.reject(err));
    });
  return {
    async addMember(peerURLs, isLearner) {
      const cluster = d.stores.cluster;
      cluster.mayAddMember(isLearner, self, peers.activePeers());
      const m = cluster.newMember(peerURLs, isLearner, Date.now());
      await proposeConfChange({
        type: isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
        nodeId: m.id,
        context: encodeMemberContext(m),
      });
      return { member: m, members: cluster.members() };
    },
    async removeMember(id) {
      const cluster = d.stores.cluster;
      cluster.validateRemove(id);
      cluster.mayRemoveMember(id, self, peers.activePeers());
      await proposeConfChange({
        type: ConfChangeType.ConfChangeRemoveNode,
        nodeId: id,
        context: new Uint8Array(0),
      });
      return cluster.members();
    },
    async updateMember(id, peerURLs) {
      const cluster = d.stores.cluster;
      const urls = cluster.validateUpdate(id, peerURLs);
      const cur = cluster.member(id)!;
      await proposeConfChange({
        type: ConfChangeType.ConfChangeUpdateNode,
        nodeId: id,
        context: encodeMemberContext({ ...cur, peerURLs: urls }),
      });
      return cluster.members();
    },
    async promoteMember(id) {
      const cluster = d.stores.cluster;
      // Only the leader knows how far the learner got; elsewhere the apply-time checks decide.
      const progress = raft.isLeader()
        ? { match: (x: bigint) => raft.matchOf(x), leaderMatch: raft.matchOf(self) }
        : undefined;
      cluster.validatePromote(id, progress);
      cluster.mayPromoteMember(id);
      const cur = cluster.member(id)!;
      await proposeConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: id,
        context: encodeMemberContext({ ...cur, isLearner: false }, true),
      });
      return cluster.members();
    },
    async listMembers(linearizable) {
      if (linearizable) await d.reads.barrier();
      return d.stores.cluster.members();
    },
    responseHeader(): ResponseHeaderFields {
      return {
        clusterId: d.stores.cluster.clusterId,
        memberId: self,
        revision: d.stores.revision(),
        raftTerm: raft.term(),
      };
    },
  };
}
