// The client-facing server: every gRPC service, served by the one router (router.ts) on the HTTP/2
// front, and HTTP/1.1 on the same port (listener.ts tells them apart by their first bytes).
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
import { coordErrors } from './coord_handler.ts';
import { GrpcRouter } from './router.ts';
import { Interceptor } from './interceptor.ts';
import { createHttpServer } from '../http/http.ts';
import { healthCheck } from './health_http.ts';
import { createGateway } from '../gateway/gateway.ts';
import { observeRoutes } from '../http/observe.ts';
import { bindGrpc } from '../../pkg/metrics.ts';
import { listenClient } from '../http/listener.ts';
import type { H2LimitOptions } from '../http/limits.ts';

/** gRPC's receive limit sits above --max-request-bytes so that etcd's own "too large" error shows. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

export interface ClientServer {
  port: number;
  close(): Promise<void>;
}

/** The router with every service of the member. */
export function clientRouter(srv: ClientApi, log: Logger): { router: GrpcRouter; close(): void } {
  // Learners and hasleader are checked before any handler, as etcd's interceptors do.
  const guard = new Interceptor({ gate: srv.gate, electionMs: srv.limits.electionMs ?? 1000 });
  const router = new GrpcRouter({
    maxReceiveBytes: srv.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    log,
    guard,
  });
  const toLeader = (path: string, raw: Buffer) => srv.forwardToLeader(path, raw);
  router.service('etcdserverpb.KV', kvService(srv.kv, srv.limits));
  router.service('etcdserverpb.Watch', watchService(srv.watchable, srv, srv.limits));
  router.service('etcdserverpb.Lease', leaseService(srv.lessor, srv, toLeader));
  router.service('etcdserverpb.Maintenance', maintenanceService(srv.maintenance, srv));
  router.service('etcdserverpb.Cluster', clusterService(srv.cluster, toLeader));
  router.service('etcdserverpb.Auth', {});
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

/** What the client port serves over HTTP/1.1 besides the gateway and health. */
export interface HttpOptions {
  /** --enable-pprof: /debug/pprof/ (a CPU profile, a heap snapshot). */
  pprof?: boolean;
}

export async function startClientServer(
  srv: ClientApi,
  log: Logger,
  host: string,
  port: number,
  limits?: H2LimitOptions,
  httpOpts: HttpOptions = {},
): Promise<ClientServer> {
  const { router, close } = clientRouter(srv, log);
  // HTTP/1.1 requests under /v3/ go to the JSON gateway, which calls the same handlers; /metrics and
  // /debug/ to the observation routes.
  const maxReceiveBytes = srv.limits.maxRequestBytes + GRPC_OVERHEAD_BYTES;
  const gateway = createGateway(router, { maxReceiveBytes, log });
  const observe = observeRoutes({ pprof: httpOpts.pprof ?? false, raftStatus: () => srv.raftStatus() });
  const http = createHttpServer((req, res) => gateway(req, res) || observe(req, res), healthCheck(srv));
  const listener = await listenClient(
    host,
    port,
    limits ? { route: router.route, limits } : { route: router.route },
    http,
  );
  return {
    port: listener.port,
    async close() {
      close();
      await listener.close();
      http.close();
    },
  };
}
