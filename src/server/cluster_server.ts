// The membership commands (api.ts's Cluster, etcd's AddMember/RemoveMember/... in server.go): checks with
// RaftCluster's validators, then a conf change through raft, answered once this member applies it.
// As in etcd, a conf change waits for a leader to take it and then for its apply, bounded only by the
// client: it ends when the call's signal aborts (deadline, cancel, connection gone), not at the
// request timeout. The strict reconfiguration checks (--strict-reconfig-check) run only when enabled.
import { encodeMemberContext, type Member } from '../membership/member.ts';
import { ConfChangeType, ErrProposalDropped, type ConfChange } from '../raft/index.ts';
import type { Cluster } from './api.ts';
import type { Proposer } from './propose.ts';
import type { Stores } from './stores.ts';
import { ErrCanceled } from './errors.ts';

/** How often a conf change waiting for a leader looks again (only while one waits). */
const LEADER_POLL_MS = 20;

/** What the membership commands need of the raft node. */
export interface ClusterRaft {
  proposeConfChange(cc: ConfChange, fail: (e: unknown) => void): void;
  isLeader(): boolean;
  /** The leader this member knows of; 0n for none. */
  lead(): bigint;
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
  /** --strict-reconfig-check (default true): refuse changes that could cost the quorum. */
  strictReconfigCheck?: boolean;
}

export function clusterServerOf(d: ClusterServerDeps): Cluster {
  const { raft, peers } = d;
  const self = d.memberId;
  const strict = d.strictReconfigCheck ?? true;
  /**
   * Proposes a conf change once there is a leader (etcd's raft blocks it until then); resolves with
   * the member it changed once applied here. Fails only with raft's answer or when `signal` aborts.
   */
  const proposeConfChange = (cc: Omit<ConfChange, 'id'>, signal?: AbortSignal): Promise<Member> =>
    d.proposer.register<Member>((id) => {
      const fail = (err: unknown) => d.proposer.take(id)?.reject(err);
      const onAbort = () => fail(new ErrCanceled());
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const attempt = (): void => {
        // Nobody waits any more: the call ended, or the member stopped (failAll).
        if (signal?.aborted || !d.proposer.isWaiting(id)) return;
        if (raft.lead() === 0n) {
          setTimeout(attempt, LEADER_POLL_MS).unref();
          return;
        }
        raft.proposeConfChange({ ...cc, id }, (err) => {
          // The leader went between the look and the proposal: wait for the next one.
          if (err instanceof ErrProposalDropped && raft.lead() === 0n) attempt();
          else fail(err);
        });
      };
      attempt();
    }, Infinity);
  return {
    async addMember(peerURLs, isLearner, signal) {
      const cluster = d.stores.cluster;
      if (strict) cluster.mayAddMember(isLearner, self, peers.activePeers());
      const m = cluster.newMember(peerURLs, isLearner, Date.now());
      await proposeConfChange(
        {
          type: isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode,
          nodeId: m.id,
          context: encodeMemberContext(m),
        },
        signal,
      );
      return { member: m, members: cluster.members() };
    },
    async removeMember(id, signal) {
      const cluster = d.stores.cluster;
      cluster.validateRemove(id);
      if (strict) cluster.mayRemoveMember(id, self, peers.activePeers());
      await proposeConfChange(
        { type: ConfChangeType.ConfChangeRemoveNode, nodeId: id, context: new Uint8Array(0) },
        signal,
      );
      return cluster.members();
    },
    async updateMember(id, peerURLs, signal) {
      const cluster = d.stores.cluster;
      const urls = cluster.validateUpdate(id, peerURLs);
      const cur = cluster.member(id)!;
      await proposeConfChange(
        {
          type: ConfChangeType.ConfChangeUpdateNode,
          nodeId: id,
          context: encodeMemberContext({ ...cur, peerURLs: urls }),
        },
        signal,
      );
      return cluster.members();
    },
    async promoteMember(id, signal) {
      const cluster = d.stores.cluster;
      // Only the leader knows how far the learner got; elsewhere the apply-time checks decide.
      const progress = raft.isLeader()
        ? { match: (x: bigint) => raft.matchOf(x), leaderMatch: raft.matchOf(self) }
        : undefined;
      cluster.validatePromote(id, progress);
      if (strict) cluster.mayPromoteMember(id);
      const cur = cluster.member(id)!;
      await proposeConfChange(
        {
          type: ConfChangeType.ConfChangeAddNode,
          nodeId: id,
          context: encodeMemberContext({ ...cur, isLearner: false }, true),
        },
        signal,
      );
      return cluster.members();
    },
    async listMembers(linearizable) {
      if (linearizable) await d.reads.barrier();
      return d.stores.cluster.members();
    },
    // etcd's cluster service fills cluster, member and term only: no revision.
    responseHeader() {
      return { clusterId: d.stores.cluster.clusterId, memberId: self, raftTerm: raft.term() };
    },
  };
}
