// v3electionpb.Election: decode, run the election semantics of v3election.ts, fill headers.
// Observe is a server stream that lives until the client goes, the server closes, or the history it
// watches is compacted (then it ends with OK, as etcd's does).
import type { RaftStatus } from '../../server/api.ts';
import { CoordKV, type CoordMember } from './v3concurrency.ts';
import { V3Election, type LeaderKey, type LeaderResult } from './v3election.ts';
import { asBuf, fromBigInt, sat, toBigInt, type Int64 } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import { coordUnary, withCoordSignal } from './coord_handler.ts';
import { AuthError } from '../../auth/errors.ts';
import type { CoordService } from './lock.ts';
import { serverStream, unary, type ServiceImpl } from './router.ts';

interface LeaderKeyPb {
  name: Uint8Array;
  key: Uint8Array;
  rev: Int64;
  lease: Int64;
}

const leaderKeyIn = (l: LeaderKeyPb | null | undefined): LeaderKey | undefined =>
  l ? { name: asBuf(l.name), key: asBuf(l.key), rev: sat(l.rev), lease: toBigInt(l.lease) } : undefined;

export function electionService(member: CoordMember, status: RaftStatus): CoordService {
  const types = requestTypes('v3electionpb.Election');
  const t = (m: string) => types[m]!;
  const kv = new CoordKV(member);
  const election = new V3Election(kv);
  const leaderOut = (r: LeaderResult) => ({ header: status.header({ ...r.header }), kv: r.kv });
  const impl: ServiceImpl = {
    Campaign: unary(
      coordUnary(kv, async (raw, signal) => {
        const req = decode<{ name: Uint8Array; lease: Int64; value: Uint8Array }>(t('Campaign'), raw);
        const r = await election.campaign(asBuf(req.name), toBigInt(req.lease), asBuf(req.value), signal);
        const l = r.leader;
        return {
          header: status.header(r.header),
          leader: { name: l.name, key: l.key, rev: l.rev, lease: fromBigInt(l.lease) },
        };
      }),
    ),
    Proclaim: unary(
      coordUnary(kv, async (raw) => {
        const req = decode<{ leader?: LeaderKeyPb | null; value: Uint8Array }>(t('Proclaim'), raw);
        const r = await election.proclaim(leaderKeyIn(req.leader), asBuf(req.value));
        return { header: status.header(r.header) };
      }),
    ),
    Resign: unary(
      coordUnary(kv, async (raw) => {
        const req = decode<{ leader?: LeaderKeyPb | null }>(t('Resign'), raw);
        const r = await election.resign(leaderKeyIn(req.leader));
        return { header: status.header(r.header) };
      }),
    ),
    Leader: unary(
      coordUnary(kv, (raw) => {
        const req = decode<{ name: Uint8Array }>(t('Leader'), raw);
        return leaderOut(election.leader(asBuf(req.name)));
      }),
    ),
    Observe: serverStream((raw, ctx, out) => {
      const req = decode<{ name: Uint8Array }>(t('Observe'), raw, true);
      // As the caller (etcd's in-process client carries its token). etcd's Observe ends its stream
      // with no error when a read fails: so does a refusal by auth here.
      return withCoordSignal(kv, ctx, (signal) =>
        kv.asCaller(ctx, () => election.observe(asBuf(req.name), signal, (r) => out.write(leaderOut(r)))),
      ).catch((err: unknown) => {
        if (!(err instanceof AuthError)) throw err;
      });
    }),
  };
  return { impl, close: () => kv.close() };
}
