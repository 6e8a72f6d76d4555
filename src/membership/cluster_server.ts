// What the etcdserverpb.Cluster service (api/grpc/cluster.ts) needs from the member. The server
// implements it: validation with RaftCluster's checks, then a conf change through raft, answered once it
// is applied. Errors thrown are the classes of ./errors.ts (or the server's own, e.g. no leader, timeout).
import type { Member } from './member.ts';

/** The fields of etcdserverpb.ResponseHeader, IDs as bigint. */
export interface ResponseHeaderFields {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

export interface ClusterServer {
  /**
   * MemberAdd. `peerURLs` are already validated and sorted by the API layer (parsePeerURLs). Resolves
   * with the new member (its ID derived from the URLs and the time) and the member list after the add.
   */
  addMember(peerURLs: string[], isLearner: boolean): Promise<{ member: Member; members: Member[] }>;
  /** MemberRemove: resolves with the member list after the removal. */
  removeMember(id: bigint): Promise<Member[]>;
  /** MemberUpdate: replaces the peer URLs; resolves with the member list after the update. */
  updateMember(id: bigint, peerURLs: string[]): Promise<Member[]>;
  /** MemberPromote: learner to voter (leader checks readiness); resolves with the member list after. */
  promoteMember(id: bigint): Promise<Member[]>;
  /** MemberList: with `linearizable`, only after a ReadIndex round confirms this member is current. */
  listMembers(linearizable: boolean): Promise<Member[]>;
  /** The header to put on a response, taken when the response is built. */
  responseHeader(): ResponseHeaderFields;
}
