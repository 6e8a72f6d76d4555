// etcdserverpb.Cluster: MemberAdd, MemberRemove, MemberUpdate, MemberList, MemberPromote over the
// ClusterServer interface. Peer URLs of an add are checked here, as etcd's v3rpc does, so a bad URL is
// answered before anything is proposed. uint64 IDs cross the wire as Long and live as bigint.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { fromBigInt, toBigInt, type Int64, type Long } from '../../proto/index.ts';
import type { ClusterServer, ResponseHeaderFields } from '../../membership/cluster_server.ts';
import { parsePeerURLs, type Member } from '../../membership/member.ts';
import { decode, serviceDefinition } from './codec.ts';
import { unary } from './handler.ts';

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

export function headerToProto(h: ResponseHeaderFields): {
  clusterId: Long;
  memberId: Long;
  revision: number;
  raftTerm: number;
} {
  return {
    clusterId: fromBigInt(h.clusterId, true),
    memberId: fromBigInt(h.memberId, true),
    revision: h.revision,
    raftTerm: h.raftTerm,
  };
}

export function clusterService(
  srv: ClusterServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition, methods } = serviceDefinition('etcdserverpb.Cluster');
  const t = (m: string) => methods[m]!.requestType;
  const list = (ms: readonly Member[]) => ms.map(memberToProto);
  const header = () => headerToProto(srv.responseHeader());
  const impl = {
    MemberAdd: unary(log, 'MemberAdd', async (raw) => {
      const req = decode<{ peerURLs: string[]; isLearner: boolean }>(t('MemberAdd'), raw);
      const urls = parsePeerURLs(req.peerURLs ?? []);
      const { member, members } = await srv.addMember(urls, !!req.isLearner);
      // etcd answers the new member without name or client URLs: it has not started yet.
      return {
        header: header(),
        member: { ...memberToProto(member), name: '', clientURLs: [] },
        members: list(members),
      };
    }),
    MemberRemove: unary(log, 'MemberRemove', async (raw) => {
      const req = decode<{ ID: Int64 }>(t('MemberRemove'), raw);
      const members = await srv.removeMember(toBigInt(req.ID, true));
      return { header: header(), members: list(members) };
    }),
    MemberUpdate: unary(log, 'MemberUpdate', async (raw) => {
      const req = decode<{ ID: Int64; peerURLs: string[] }>(t('MemberUpdate'), raw);
      const members = await srv.updateMember(toBigInt(req.ID, true), [...(req.peerURLs ?? [])]);
      return { header: header(), members: list(members) };
    }),
    MemberList: unary(log, 'MemberList', async (raw) => {
      const req = decode<{ linearizable: boolean }>(t('MemberList'), raw);
      const members = await srv.listMembers(!!req.linearizable);
      return { header: header(), members: list(members) };
    }),
    MemberPromote: unary(log, 'MemberPromote', async (raw) => {
      const req = decode<{ ID: Int64 }>(t('MemberPromote'), raw);
      const members = await srv.promoteMember(toBigInt(req.ID, true));
      return { header: header(), members: list(members) };
    }),
  };
  return [definition, impl];
}
