// The client-facing gRPC server: every service on one port, etcd's message size limits.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import { kvService } from './kv.ts';
import { maintenanceService } from './maintenance.ts';
import { healthService } from './health.ts';
import { leaseService } from './lease.ts';

/** gRPC's receive limit sits above --max-request-bytes so that etcd's own "too large" error shows. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

export async function startGrpc(srv: EtcdServer, log: Logger, hostPort: string): Promise<grpc.Server> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': srv.cfg.maxRequestBytes + GRPC_OVERHEAD_BYTES,
    'grpc.max_send_message_length': 2 ** 31 - 1,
    'grpc.max_concurrent_streams': 2 ** 31 - 1,
  });
  for (const [def, impl] of [
    kvService(srv, log),
    leaseService(srv, log),
    maintenanceService(srv, log),
    healthService(),
  ]) {
    server.addService(def, impl);
  }
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(hostPort, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    );
  });
  return server;
}

export function stopGrpc(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
