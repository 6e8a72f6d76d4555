// etcdserverpb.Cluster: MemberAdd, MemberRemove, MemberUpdate, MemberList, MemberPromote over the
// member's Cluster interface (server/api.ts). Peer URLs of an add are checked here, as etcd's v3rpc
// does, so a bad URL is answered before anything is proposed. uint64 IDs cross the wire as Long and
// live as bigint.
import { fromBigInt, messageType, toBigInt, type Int64, type Long } from '../../proto/index.ts';
import {
  parsePeerURLs,
  type Auth,
  type Cluster,
  type ClusterHeaderFields,
  type Member,
} from '../../server/api.ts';
import { withCaller } from './auth.ts';
import { decode, requestTypes } from './codec.ts';
import { unary, type ServiceImpl } from './router.ts';

const PromoteResponsePb = messageType('etcdserverpb.MemberPromoteResponse');

interface MemberMsg {
  ID: Long;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export function memberToProto(m: Member): MemberMsg {
  return {
    ID: fromBigInt(m.id, true),
    name: m.name,
    peerURLs: [...m.peerURLs],
    clientURLs: [...m.clientURLs],
    isLearner: m.isLearner,
  };
}

/** etcd's Cluster responses carry no revision (its JSON form has none). */
export function headerToProto(h: ClusterHeaderFields): { clusterId: Long; memberId: Long; raftTerm: number } {
  return {
    clusterId: fromBigInt(h.clusterId, true),
    memberId: fromBigInt(h.memberId, true),
    raftTerm: h.raftTerm,
  };
}

/** The leader's answer to a request only it can judge, or undefined when this member leads. */
export type ToLeader = (path: string, raw: Buffer, token?: string) => Promise<Buffer | undefined>;

export function clusterService(srv: Cluster, toLeader: ToLeader, auth: Auth): ServiceImpl {
  // etcd's checkMembershipOperationPermission: add, remove, update and promote need the root role.
  const admin = (ctx: Parameters<typeof withCaller>[1]) =>
    withCaller(auth, ctx, (ai) => auth.isAdminPermitted(ai));
  const t = requestTypes('etcdserverpb.Cluster');
  const list = (ms: readonly Member[]) => ms.map(memberToProto);
  const header = () => headerToProto(srv.responseHeader());
  return {
    MemberAdd: unary(async (raw, ctx) => {
      const req = decode<{ peerURLs: string[]; isLearner: boolean }>(t['MemberAdd']!, raw);
      const urls = parsePeerURLs(req.peerURLs ?? []);
      await admin(ctx);
      const { member, members } = await srv.addMember(urls, !!req.isLearner, ctx.signal);
      // etcd answers the new member without name or client URLs: it has not started yet.
      return {
        header: header(),
        member: { ...memberToProto(member), name: '', clientURLs: [] },
        members: list(members),
      };
    }),
    MemberRemove: unary(async (raw, ctx) => {
      const req = decode<{ ID: Int64 }>(t['MemberRemove']!, raw);
      await admin(ctx);
      const members = await srv.removeMember(toBigInt(req.ID, true), ctx.signal);
      return { header: header(), members: list(members) };
    }),
    MemberUpdate: unary(async (raw, ctx) => {
      const req = decode<{ ID: Int64; peerURLs: string[] }>(t['MemberUpdate']!, raw);
      await admin(ctx);
      const members = await srv.updateMember(toBigInt(req.ID, true), [...(req.peerURLs ?? [])], ctx.signal);
      return { header: header(), members: list(members) };
    }),
    MemberList: unary(async (raw) => {
      const req = decode<{ linearizable: boolean }>(t['MemberList']!, raw);
      const members = await srv.listMembers(!!req.linearizable);
      return { header: header(), members: list(members) };
    }),
    MemberPromote: unary(async (raw, ctx) => {
      const req = decode<{ ID: Int64 }>(t['MemberPromote']!, raw);
      await admin(ctx);
      // Only the leader knows whether a learner has caught up: a follower forwards (as etcd does).
      const token = ctx.metadata('token') ?? ctx.metadata('authorization');
      const fwd = await toLeader('/etcdserverpb.Cluster/MemberPromote', raw, token);
      if (fwd) return PromoteResponsePb.decode(fwd);
      const members = await srv.promoteMember(toBigInt(req.ID, true), ctx.signal);
      return { header: header(), members: list(members) };
    }),
  };
}
