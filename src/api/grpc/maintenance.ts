// etcdserverpb.Maintenance: Status (raft view of this member), HashKV, Alarm GET, MoveLeader.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { CLUSTER_VERSION, SERVER_VERSION, type EtcdServer } from '../../server/server.ts';
import { fromBigInt, toBigInt } from '../../proto/index.ts';
import { sat } from '../../server/txn/kv_view.ts';
import { decode, serviceDefinition } from './codec.ts';
import { unary } from './handler.ts';
import type { Int64 } from '../../proto/index.ts';

void CLUSTER_VERSION;

export function maintenanceService(
  srv: EtcdServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition, methods } = serviceDefinition('etcdserverpb.Maintenance');
  const impl = {
    Status: unary(log, 'Status', () => ({
      header: srv.header({ revision: srv.kv.rev() }),
      version: SERVER_VERSION,
      dbSize: srv.backend.size(),
      leader: fromBigInt(srv.leader(), true),
      raftIndex: srv.committedIndex(),
      raftTerm: srv.term(),
      raftAppliedIndex: srv.applied(),
      dbSizeInUse: srv.backend.sizeInUse(),
      isLearner: srv.isLearner(),
      errors: [],
    })),
    HashKV: unary(log, 'HashKV', async (raw) => {
      const req = decode<{ revision: Int64 }>(methods['HashKV']!.requestType, raw);
      const h = await srv.kv.hashKV(sat(req.revision));
      return {
        header: srv.header({ revision: srv.kv.rev() }),
        hash: h.hash,
        compactRevision: h.compactRevision,
        hashRevision: h.hashRevision,
      };
    }),
    MoveLeader: unary(log, 'MoveLeader', async (raw) => {
      const req = decode<{ targetID: Int64 }>(methods['MoveLeader']!.requestType, raw);
      await srv.moveLeader(toBigInt(req.targetID, true));
      return { header: srv.header({ revision: srv.kv.rev() }) };
    }),
    Alarm: unary(log, 'Alarm', () => ({ header: srv.header({ revision: srv.kv.rev() }), alarms: [] })),
  };
  return [definition, impl];
}
