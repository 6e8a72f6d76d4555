// etcdserverpb.Maintenance: Status (raft view of this member), HashKV, Alarm GET, MoveLeader.
import type { Maintenance, RaftStatus } from '../../server/api.ts';
import { SERVER_VERSION } from '../../pkg/version.ts';
import { fromBigInt, sat, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { unary, type ServiceImpl } from './router.ts';

export function maintenanceService(m: Maintenance, status: RaftStatus): ServiceImpl {
  const t = requestTypes('etcdserverpb.Maintenance');
  const header = () => status.header({ revision: status.rev() });
  return {
    Status: unary((raw) => {
      decode(t['Status']!, raw);
      const s = m.status();
      return {
        header: header(),
        version: SERVER_VERSION,
        dbSize: s.dbSize,
        leader: fromBigInt(s.leader, true),
        raftIndex: s.raftIndex,
        raftTerm: s.raftTerm,
        raftAppliedIndex: s.raftAppliedIndex,
        dbSizeInUse: s.dbSizeInUse,
        isLearner: s.isLearner,
        errors: [],
      };
    }),
    HashKV: unary(async (raw) => {
      const req = decode<{ revision: Int64 }>(t['HashKV']!, raw);
      const h = await m.hashKV(sat(req.revision));
      return {
        header: header(),
        hash: h.hash,
        compactRevision: h.compactRevision,
        hashRevision: h.hashRevision,
      };
    }),
    MoveLeader: unary(async (raw) => {
      const req = decode<{ targetID: Int64 }>(t['MoveLeader']!, raw);
      await m.moveLeader(toBigInt(req.targetID, true));
      return { header: header() };
    }),
    Alarm: unary((raw) => {
      decode(t['Alarm']!, raw);
      return { header: header(), alarms: [] };
    }),
  };
}
