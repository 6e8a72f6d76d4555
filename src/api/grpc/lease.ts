// etcdserverpb.Lease: grant and revoke go through the log; keep-alive, time-to-live and listing are
// answered by the leader's lessor.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import { fromBigInt, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, serviceDefinition } from './codec.ts';
import { unary } from './handler.ts';
import { toStatus } from './errors.ts';

export function leaseService(
  srv: EtcdServer,
  log: Logger,
): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const { definition, methods } = serviceDefinition('etcdserverpb.Lease');
  const t = (m: string) => methods[m]!.requestType;
  const header = () => srv.header({ revision: srv.kv.rev() });
  const impl = {
    LeaseGrant: unary(log, 'LeaseGrant', async (raw) => {
      const req = decode<{ TTL: Int64; ID: Int64 }>(t('LeaseGrant'), raw);
      const r = await srv.leaseGrant(req);
      return { header: srv.header(r.header), ID: fromBigInt(r.ID), TTL: r.TTL };
    }),
    LeaseRevoke: unary(log, 'LeaseRevoke', async (raw) => {
      const req = decode<{ ID: Int64 }>(t('LeaseRevoke'), raw);
      const r = await srv.leaseRevoke(raw, req);
      return { header: srv.header(r.header) };
    }),
    LeaseTimeToLive: unary(log, 'LeaseTimeToLive', (raw) => {
      const req = decode<{ ID: Int64; keys: boolean }>(t('LeaseTimeToLive'), raw);
      const id = toBigInt(req.ID);
      const l = srv.lessor.lookup(id);
      if (!l) return { header: header(), ID: fromBigInt(id), TTL: -1 };
      return {
        header: header(),
        ID: fromBigInt(id),
        TTL: srv.lessor.remaining(id),
        grantedTTL: l.ttl,
        keys: req.keys ? [...l.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
      };
    }),
    LeaseLeases: unary(log, 'LeaseLeases', () => ({
      header: header(),
      leases: srv.lessor.ids().map((id) => ({ ID: fromBigInt(id) })),
    })),
    LeaseKeepAlive: (call: grpc.ServerDuplexStream<Buffer, object>) => {
      call.on('data', (raw: Buffer) => {
        try {
          const req = decode<{ ID: Int64 }>(t('LeaseKeepAlive'), raw);
          const id = toBigInt(req.ID);
          const ttl = srv.lessor.renew(id);
          call.write({ header: header(), ID: fromBigInt(id), TTL: ttl ?? 0 });
        } catch (err) {
          const s = toStatus(err);
          call.destroy(Object.assign(new Error(s.details), { code: s.code, details: s.details }));
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => {});
    },
  };
  return [definition, impl];
}
