// etcdserverpb.Lease: grant and revoke go through the log; keep-alive, time-to-live and listing are
// answered by the leader's lessor. Lease expiry runs on the leader, so keep-alive and time-to-live that
// arrive at a follower are forwarded to the leader (as etcd does), in the order they came.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { EtcdServer } from '../../server/server.ts';
import { fromBigInt, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, serviceDefinition } from './codec.ts';
import { unary } from './handler.ts';
import { toStatus } from './errors.ts';
import { messageType } from '../../proto/index.ts';
import { ForwardedStatusError } from '../../server/leader_forward.ts';

const KeepAliveResponsePb = messageType('etcdserverpb.LeaseKeepAliveResponse');
const TimeToLiveResponsePb = messageType('etcdserverpb.LeaseTimeToLiveResponse');

function statusOf(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof ForwardedStatusError) return { code: err.code as grpc.status, details: err.details };
  const st = toStatus(err);
  return { code: st.code, details: st.details };
}

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
    LeaseTimeToLive: unary(log, 'LeaseTimeToLive', async (raw) => {
      const fwd = await srv.forwardToLeader('/etcdserverpb.Lease/LeaseTimeToLive', raw);
      if (fwd) return TimeToLiveResponsePb.decode(fwd);
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
      const renew = (raw: Buffer): object | Promise<object> => {
        const id = toBigInt(decode<{ ID: Int64 }>(t('LeaseKeepAlive'), raw).ID);
        const answer = (ttl: number | undefined) => ({ header: header(), ID: fromBigInt(id), TTL: ttl ?? 0 });
        const ttl = srv.leaseRenew(id);
        return ttl instanceof Promise ? ttl.then(answer) : answer(ttl);
      };
      const fail = (err: unknown) => {
        const s = statusOf(err);
        call.destroy(Object.assign(new Error(s.details), s));
      };
      // Answers keep the order of the requests, also while some wait (for the leader, or for the renewal
      // to reach the log); a lone voter with nothing waiting answers a request at once.
      let chain: Promise<void> = Promise.resolve();
      let waiting = 0;
      const enqueue = (answer: () => Promise<object>) => {
        waiting++;
        chain = chain
          .then(answer)
          .then((out) => void call.write(out), fail)
          .finally(() => waiting--);
      };
      call.on('data', (raw: Buffer) => {
        if (waiting === 0 && srv.leader() === srv.memberId) {
          let out: object | Promise<object>;
          try {
            out = renew(raw);
          } catch (err) {
            return fail(err);
          }
          if (out instanceof Promise) enqueue(() => out);
          else call.write(out);
          return;
        }
        enqueue(async () => {
          const fwd = await srv.forwardToLeader('/etcdserverpb.Lease/LeaseKeepAlive', raw);
          return fwd ? KeepAliveResponsePb.decode(fwd) : renew(raw);
        });
      });
      call.on('end', () => void chain.then(() => call.end()));
      call.on('error', () => {});
    },
  };
  return [definition, impl];
}
