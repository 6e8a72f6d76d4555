// The client-facing server: every gRPC service plus HTTP, multiplexed on each client port.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import { kvHandlers, kvService } from './kv.ts';
import { unaryRouter, type FastHandler } from './fast_unary.ts';
import { streamRouter, type ServerStream, type StreamMethod } from './fast_stream.ts';
import { statusOf as unaryStatus } from './handler.ts';
import { maintenanceService } from './maintenance.ts';
import { healthService } from './health.ts';
import { clusterService } from './cluster.ts';
import { leaseService } from './lease.ts';
import { watchService } from './watch.ts';
import { lockService } from './lock.ts';
import { electionService } from './election.ts';
import { createHttpServer } from '../http/http.ts';
import { listenClient } from '../http/listener.ts';
import { duplexPair } from '../http/duplex_pair.ts';
import type { H2FrontOptions } from '../http/h2_server.ts';
import { toStatus } from './errors.ts';
import { messageType } from '../../proto/index.ts';
import { ForwardedStatusError } from '../../server/leader_forward.ts';

const PromoteResponsePb = messageType('etcdserverpb.MemberPromoteResponse');

/** Only the leader knows whether a learner has caught up: a follower forwards MemberPromote (as etcd). */
function leaderPromote(
  srv: EtcdServer,
  [def, impl]: [grpc.ServiceDefinition, grpc.UntypedServiceImplementation],
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const local = impl['MemberPromote'] as grpc.handleUnaryCall<Buffer, object>;
  const promote: grpc.handleUnaryCall<Buffer, object> = (call, callback) => {
    srv.forwardToLeader('/etcdserverpb.Cluster/MemberPromote', call.request).then(
      (out) => (out ? callback(null, PromoteResponsePb.decode(out)) : local(call, callback)),
      (err: unknown) => callback(statusOf(err)),
    );
  };
  return [def, { ...impl, MemberPromote: promote }];
}

function statusOf(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof ForwardedStatusError) return { code: err.code as grpc.status, details: err.details };
  const st = toStatus(err);
  return { code: st.code, details: st.details };
}

/** gRPC's receive limit sits above --max-request-bytes so that etcd's own "too large" error shows. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

/** The KV service's unary methods for the fast path, each encoding its own response. */
function kvRoutes(srv: EtcdServer): Map<string, FastHandler> {
  const { handlers, methods } = kvHandlers(srv);
  const routes = new Map<string, FastHandler>();
  for (const [name, run] of Object.entries(handlers)) {
    const { responseType } = methods[name]!;
    routes.set(`/etcdserverpb.KV/${name}`, { run, encode: (v) => responseType.encode(v).finish() });
  }
  return routes;
}

/** The bidirectional streams the front serves itself, taken from their grpc-js services. */
function streamRoutes(
  services: [grpc.ServiceDefinition, grpc.UntypedServiceImplementation][],
  paths: string[],
): Map<string, StreamMethod> {
  const routes = new Map<string, StreamMethod>();
  for (const [def, impl] of services) {
    for (const [name, m] of Object.entries(def)) {
      if (!paths.includes(m.path)) continue;
      const handler = impl[name] as unknown as (call: ServerStream) => void;
      routes.set(m.path, { handler, serialize: (v) => m.responseSerialize(v) });
    }
  }
  return routes;
}

export interface ClientServer {
  port: number;
  close(): Promise<void>;
}

export async function startClientServer(
  srv: EtcdServer,
  log: Logger,
  host: string,
  port: number,
): Promise<ClientServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': srv.cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.max_concurrent_streams': 2 ** 31 - 1,
    // Channelz keeps per-call counters and listeners on every stream; nothing here reads them.
    'grpc.enable_channelz': 0,
  });
  const watch = watchService(srv, log);
  const lease = leaseService(srv, log);
  for (const [def, impl] of [
    kvService(srv, log),
    watch,
    lease,
    maintenanceService(srv, log),
    leaderPromote(srv, clusterService(srv.clusterServer, log)),
    healthService(),
  ]) {
    server.addService(def, impl);
  }
  // Lock and Election calls can wait indefinitely; they are ended first on close.
  const coord = [lockService(srv, log), electionService(srv, log)];
  for (const c of coord) server.addService(c.definition, c.impl);
  const http = createHttpServer(srv);
  // The HTTP/2 front serves the KV service's unary calls, Watch and LeaseKeepAlive itself and forwards
  // every other stream to grpc-js, each client connection over an in-memory connection of its own.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const maxReceiveBytes = srv.cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES;
  const unary = unaryRouter(kvRoutes(srv), {
    maxReceiveBytes,
    onError: (method, err) => unaryStatus(log, method, err),
  });
  const streams = streamRouter(
    streamRoutes([watch, lease], ['/etcdserverpb.Watch/Watch', '/etcdserverpb.Lease/LeaseKeepAlive']),
    maxReceiveBytes,
  );
  const route: H2FrontOptions['route'] = (head, sink) => unary(head, sink) ?? streams(head, sink);
  const connectBackend = () => {
    const [front, back] = duplexPair();
    injector.injectConnection(back);
    return front;
  };
  const listener = await listenClient(host, port, { route, connectBackend }, http);
  return {
    port: listener.port,
    async close() {
      for (const c of coord) c.close();
      await listener.close();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      injector.destroy();
      http.close();
    },
  };
}
