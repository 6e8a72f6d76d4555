// etcdserverpb.Lease: grant and revoke go through the log; keep-alive, time-to-live and listing are
// answered by the leader's lessor. Lease expiry runs on the leader, so keep-alive and time-to-live that
// arrive at a follower are forwarded to the leader (as etcd does), in the order they came. Every answer
// carries the header of the member that serves the client (as etcd's v3rpc fills it): a keep-alive's
// is taken before the renewal is sent, a time-to-live's once the answer is in.
import type { Auth, Lessor, RaftStatus } from '../../server/api.ts';
import { withCaller } from './auth.ts';
import { fromBigInt, messageType, toBigInt, type Int64 } from '../../proto/index.ts';
import type { Header } from '../../proto/etcdserverpb.ts';
import { decode, requestTypes } from './codec.ts';
import type { ToLeader } from './cluster.ts';
import { bidi, unary, type ServiceImpl, type StreamIn, type StreamOut } from './router.ts';

const KeepAliveResponsePb = messageType('etcdserverpb.LeaseKeepAliveResponse');
const TimeToLiveResponsePb = messageType('etcdserverpb.LeaseTimeToLiveResponse');

export function leaseService(
  lessor: Lessor,
  status: RaftStatus,
  toLeader: ToLeader,
  auth: Auth,
): ServiceImpl {
  const t = requestTypes('etcdserverpb.Lease');
  const header = () => status.header({ revision: status.rev() });
  return {
    LeaseGrant: unary(async (raw, ctx) => {
      const req = decode<{ TTL: Int64; ID: Int64 }>(t['LeaseGrant']!, raw);
      const r = await withCaller(auth, ctx, (ai) => lessor.leaseGrant(req, ai));
      return { header: status.header(r.header), ID: fromBigInt(r.ID), TTL: r.TTL };
    }),
    LeaseRevoke: unary(async (raw, ctx) => {
      const req = decode<{ ID: Int64 }>(t['LeaseRevoke']!, raw);
      // Write permission on every attached key is checked when the revocation applies.
      const r = await withCaller(auth, ctx, (ai) => lessor.leaseRevoke(raw, req, ai));
      return { header: status.header(r.header) };
    }),
    LeaseTimeToLive: unary(async (raw) => {
      const req = decode<{ ID: Int64; keys: boolean }>(t['LeaseTimeToLive']!, raw);
      const fwd = await toLeader('/etcdserverpb.Lease/LeaseTimeToLive', raw);
      if (fwd) return { ...TimeToLiveResponsePb.decode(fwd), header: header() };
      const id = toBigInt(req.ID);
      const l = lessor.leaseTimeToLive(id, req.keys);
      if (!l) return { header: header(), ID: fromBigInt(id), TTL: -1 };
      return { header: header(), ID: fromBigInt(id), TTL: l.TTL, grantedTTL: l.grantedTTL, keys: l.keys };
    }),
    LeaseLeases: unary((raw) => {
      decode(t['LeaseLeases']!, raw);
      return { header: header(), leases: lessor.leaseLeases().map((id) => ({ ID: fromBigInt(id) })) };
    }),
    LeaseKeepAlive: bidi((out) => keepAliveStream(lessor, status, toLeader, out, t['LeaseKeepAlive']!)),
  };
}

/**
 * One keep-alive stream. Answers keep the order of the requests, also while some wait (for the
 * leader, or for the renewal to reach the log); a leader with nothing waiting answers at once.
 */
function keepAliveStream(
  lessor: Lessor,
  status: RaftStatus,
  toLeader: ToLeader,
  out: StreamOut,
  reqType: Parameters<typeof decode>[0],
): StreamIn {
  const header = () => status.header({ revision: status.rev() });
  // Made once per stream: closures made per message cost more than the renewal (profiled).
  const answer = (h: Header, id: bigint, ttl: number | undefined) => ({
    header: h,
    ID: fromBigInt(id),
    TTL: ttl ?? 0,
  });
  const renew = (id: bigint): object | Promise<object> => {
    // The header before the renewal: its revision is never later than the renewal (etcd does the same).
    const h = header();
    const ttl = lessor.leaseRenew(id);
    return ttl instanceof Promise ? ttl.then((t) => answer(h, id, t)) : answer(h, id, ttl);
  };
  const forward = async (raw: Buffer) => {
    const h = header();
    const fwd = await toLeader('/etcdserverpb.Lease/LeaseKeepAlive', raw);
    if (fwd === undefined) return undefined;
    const r = KeepAliveResponsePb.decode(fwd) as unknown as { ID: Int64; TTL: Int64 };
    return { header: h, ID: r.ID, TTL: r.TTL };
  };
  let chain: Promise<void> = Promise.resolve();
  let waiting = 0;
  let ended = false;
  const enqueue = (answer: () => object | Promise<object>) => {
    waiting++;
    chain = chain
      .then(answer)
      .then(
        (resp) => out.write(resp),
        (err: unknown) => out.fail(err),
      )
      .finally(() => {
        waiting--;
        if (ended && waiting === 0) out.end();
      });
  };
  return {
    message(raw) {
      let id: bigint;
      try {
        id = toBigInt(decode<{ ID: Int64 }>(reqType, raw, true).ID);
      } catch (err) {
        return out.fail(err);
      }
      if (waiting === 0 && lessor.isLeader()) {
        let resp: object | Promise<object>;
        try {
          resp = renew(id);
        } catch (err) {
          return out.fail(err);
        }
        if (resp instanceof Promise) enqueue(() => resp);
        else out.write(resp);
        return;
      }
      enqueue(async () => (await forward(raw)) ?? renew(id));
    },
    end() {
      ended = true;
      if (waiting === 0) out.end();
    },
    close() {},
  };
}
