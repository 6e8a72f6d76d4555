// etcdserverpb.Maintenance: Status (raft view of this member), HashKV, Alarm GET, MoveLeader.
import { SERVER_VERSION, type EtcdServer } from '../../server/server.ts';
import { fromBigInt, sat, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { unary, type ServiceImpl } from './router.ts';

export function maintenanceService(srv: EtcdServer): ServiceImpl {
  const t = requestTypes('etcdserverpb.Maintenance');
  const header = () => srv.header({ revision: srv.kv.rev() });
  return {
    Status: unary((raw) => {
      decode(t['Status']!, raw);
      return {
        header: header(),
        version: SERVER_VERSION,
        dbSize: srv.backend.size(),
        leader: fromBigInt(srv.leader(), true),
        raftIndex: srv.committedIndex(),
        raftTerm: srv.term(),
        raftAppliedIndex: srv.applied(),
        dbSizeInUse: srv.backend.sizeInUse(),
        isLearner: srv.isLearner(),
        errors: [],
      };
    }),
    HashKV: unary(async (raw) => {
      const req = decode<{ revision: Int64 }>(t['HashKV']!, raw);
      const h = await srv.kv.hashKV(sat(req.revision));
      return {
        header: header(),
        hash: h.hash,
        compactRevision: h.compactRevision,
        hashRevision: h.hashRevision,
      };
    }),
    MoveLeader: unary(async (raw) => {
      const req = decode<{ targetID: Int64 }>(t['MoveLeader']!, raw);
      await srv.moveLeader(toBigInt(req.targetID, true));
      return { header: header() };
    }),
    Alarm: unary((raw) => {
      decode(t['Alarm']!, raw);
      return { header: header(), alarms: [] };
    }),
  };
}
