// Every gRPC service of the member on the one router (router.ts). The client port that serves it
// (HTTP/2 and HTTP/1.1 side by side) is put together in cli/client_port.ts.
import type { Logger } from 'pino';
import type { ClientApi } from '../../server/api.ts';
import { kvService } from './kv.ts';
import { maintenanceService } from './maintenance.ts';
import { addHealthService } from './health.ts';
import { clusterService } from './cluster.ts';
import { leaseService } from './lease.ts';
import { watchService } from './watch.ts';
import { lockService } from './lock.ts';
import { electionService } from './election.ts';
import { authService } from './auth.ts';
import { coordErrors } from './coord_handler.ts';
import { GrpcRouter } from './router.ts';
import { Interceptor } from './interceptor.ts';
import { bindGrpc } from '../../pkg/metrics.ts';

/** gRPC's receive limit sits above --max-request-bytes so that etcd's own "too large" error shows. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** The largest request message the member takes (gRPC and the gateway alike). */
export const maxReceiveBytes = (srv: ClientApi): number => srv.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES;

/** The router with every service of the member. */
export function clientRouter(srv: ClientApi, log: Logger): { router: GrpcRouter; close(): void } {
  // Learners and hasleader are checked before any handler, as etcd's interceptors do.
  const guard = new Interceptor({ gate: srv.gate, electionMs: srv.limits.electionMs ?? 1000 });
  const router = new GrpcRouter({
    maxReceiveBytes: maxReceiveBytes(srv),
    log,
    guard,
  });
  const toLeader = (path: string, raw: Buffer, token?: string) => srv.forwardToLeader(path, raw, token);
  router.service('etcdserverpb.KV', kvService(srv.kv, srv.limits, srv.auth));
  router.service('etcdserverpb.Watch', watchService(srv.watchable, srv, srv.limits, srv.auth));
  router.service('etcdserverpb.Lease', leaseService(srv.lessor, srv, toLeader, srv.auth));
  router.service('etcdserverpb.Maintenance', maintenanceService(srv.maintenance, srv, srv.auth));
  router.service('etcdserverpb.Cluster', clusterService(srv.cluster, toLeader, srv.auth));
  router.service('etcdserverpb.Auth', authService(srv.auth));
  addHealthService(router);
  // Lock and Election calls can wait indefinitely; they are ended first on close.
  const lock = lockService(srv, srv);
  const election = electionService(srv, srv);
  router.service('v3lockpb.Lock', lock.impl, coordErrors(log));
  router.service('v3electionpb.Election', election.impl, coordErrors(log));
  bindGrpc(() => router.methodCounts());
  return {
    router,
    close() {
      guard.close();
      lock.close();
      election.close();
    },
  };
}
