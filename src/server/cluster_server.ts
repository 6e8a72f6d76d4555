// The member's side of the Cluster service (membership/cluster_server.ts's ClusterServer): checks with
// RaftCluster's validators, then a conf change through raft, answered once this member applies it.
import type { ClusterServer, ResponseHeaderFields } from '../membership/cluster_server.ts';
import type { RaftCluster } from '../membership/cluster.ts';
import { encodeMemberContext, type Member } from '../membership/member.ts';
import { ConfChangeType } from '../raft/index.ts';
import type { RaftNode } from './raft_node.ts';

export interface ClusterServerDeps {
  /** A getter: a snapshot from the leader replaces the member set. */
  cluster(): RaftCluster;
  raft: RaftNode;
  memberId: bigint;
  revision(): number;
}

export function clusterServerOf(d: ClusterServerDeps): ClusterServer {
  const { raft } = d;
  const self = d.memberId;
  return {
    async addMember(peerURLs, isLearner) {
      const cluster = d.cluster();
      cluster.mayAddMember(isLearner, self, raft.activePeers());
      const m = cluster.newMember(peerURLs, isLearner, Date.now());
      await raft.proposeConfChange<Member>({
        type: isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
        nodeId: m.id,
        context: encodeMemberContext(m),
      });
      return { member: m, members: cluster.members() };
    },
    async removeMember(id) {
      const cluster = d.cluster();
      cluster.validateRemove(id);
      cluster.mayRemoveMember(id, self, raft.activePeers());
      await raft.proposeConfChange<Member>({
        type: ConfChangeType.ConfChangeRemoveNode,
        nodeId: id,
        context: new Uint8Array(0),
      });
      return cluster.members();
    },
    async updateMember(id, peerURLs) {
      const cluster = d.cluster();
      const urls = cluster.validateUpdate(id, peerURLs);
      const cur = cluster.member(id)!;
      await raft.proposeConfChange<Member>({
        type: ConfChangeType.ConfChangeUpdateNode,
        nodeId: id,
        context: encodeMemberContext({ ...cur, peerURLs: urls }),
      });
      return cluster.members();
    },
    async promoteMember(id) {
      const cluster = d.cluster();
      // Only the leader knows how far the learner got; elsewhere the apply-time checks decide.
      const progress = raft.driver.isLeader()
        ? { match: (x: bigint) => raft.driver.matchOf(x), leaderMatch: raft.driver.matchOf(self) }
        : undefined;
      cluster.validatePromote(id, progress);
      cluster.mayPromoteMember(id);
      const cur = cluster.member(id)!;
      await raft.proposeConfChange<Member>({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: id,
        context: encodeMemberContext({ ...cur, isLearner: false }, true),
      });
      return cluster.members();
    },
    async listMembers(linearizable) {
      if (linearizable) await raft.readBarrier();
      return d.cluster().members();
    },
    responseHeader(): ResponseHeaderFields {
      return {
        clusterId: d.cluster().clusterId,
        memberId: self,
        revision: d.revision(),
        raftTerm: raft.term(),
      };
    },
  };
}
