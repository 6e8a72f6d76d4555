// The checks etcd 3.4's v3rpc interceptors make before any handler runs, as the router's CallGuard:
// - a learner serves only Maintenance.Status and serializable Ranges: every other unary call is refused
//   once its request decoded, and every stream at its opening, with "etcdserver: rpc not supported for
//   learner" (Unavailable);
// - a call carrying the metadata hasleader=true (clientv3's WithRequireLeader) on a member that knows
//   no leader is refused with "etcdserver: no leader" (Unavailable); a stream opened with it is ended
//   with that status once the member has seen no leader at 3 checks in a row, one check per election
//   timeout (etcd's monitorLeader, which is more patient with running streams than with new calls).
// A voter with a leader costs each unary call one read of `active`.
import type { CallGate } from '../../server/api.ts';
import type { RangeRequest } from '../../proto/etcdserverpb.ts';
import type { MessageType } from '../../proto/index.ts';
import { decode, requestTypes } from './codec.ts';
import type { CallContext } from './call.ts';
import type { CallGuard, GuardedCall } from './router.ts';
import { Code, type GrpcStatus } from './status.ts';

export const NOT_SUPPORTED_FOR_LEARNER: GrpcStatus = {
  code: Code.UNAVAILABLE,
  details: 'etcdserver: rpc not supported for learner',
};
export const NO_LEADER: GrpcStatus = { code: Code.UNAVAILABLE, details: 'etcdserver: no leader' };

/** rpctypes.MetadataRequireLeaderKey and MetadataHasLeader. */
const REQUIRE_LEADER_KEY = 'hasleader';
const HAS_LEADER = 'true';

/** Election timeouts in a row without a leader before hasleader streams are ended (maxNoLeaderCnt). */
const MAX_NO_LEADER_CHECKS = 3;

const STATUS_PATH = '/etcdserverpb.Maintenance/Status';
const RANGE_PATH = '/etcdserverpb.KV/Range';

export interface InterceptorOptions {
  gate: CallGate;
  /** One leader check per election timeout. */
  electionMs: number;
  /** Timers (tests step them by hand). */
  setInterval?: (fn: () => void, ms: number) => { unref?(): unknown };
  clearInterval?: (t: unknown) => void;
}

export class Interceptor implements CallGuard {
  private readonly gate: CallGate;
  private readonly rangeType = requestTypes('etcdserverpb.KV')['Range']!;
  private readonly types = new Map<string, MessageType | undefined>();
  /** Streams opened with hasleader, still running. */
  private readonly streams = new Set<GuardedCall>();
  private noLeaderChecks = 0;
  private readonly timer: unknown;
  private readonly clear: (t: unknown) => void;

  constructor(opts: InterceptorOptions) {
    this.gate = opts.gate;
    const every = opts.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    this.clear = opts.clearInterval ?? ((t) => clearInterval(t as NodeJS.Timeout));
    const t = every(() => this.checkLeader(), opts.electionMs);
    t.unref?.();
    this.timer = t;
  }

  get active(): boolean {
    const g = this.gate;
    return g.learner || g.noLeader;
  }

  unary(path: string, raw: Buffer, ctx: CallContext): GrpcStatus | undefined {
    if (this.gate.learner && !this.learnerServes(path, raw)) return NOT_SUPPORTED_FOR_LEARNER;
    if (this.gate.noLeader && requiresLeader(ctx)) return NO_LEADER;
    return undefined;
  }

  stream(_path: string, ctx: CallContext): GrpcStatus | undefined {
    if (this.gate.learner) return NOT_SUPPORTED_FOR_LEARNER;
    if (this.gate.noLeader && requiresLeader(ctx)) return NO_LEADER;
    return undefined;
  }

  opened(call: GuardedCall, ctx: CallContext): void {
    if (!requiresLeader(ctx)) return;
    // Ended streams leave at the next check; a closed call is never failed twice (status() is once).
    this.streams.add(call);
  }

  /** Stops the leader checks. */
  close(): void {
    this.clear(this.timer);
    this.streams.clear();
  }

  /** One check per election timeout (etcd's monitorLeader loop). */
  checkLeader(): void {
    if (this.gate.noLeader) this.noLeaderChecks++;
    else this.noLeaderChecks = 0;
    if (this.noLeaderChecks >= MAX_NO_LEADER_CHECKS) {
      const calls = [...this.streams];
      this.streams.clear();
      for (const c of calls) c.status(NO_LEADER);
      return;
    }
    for (const c of this.streams) if (c.isOver) this.streams.delete(c);
  }

  /** etcd's isRPCSupportedForLearner: Status, and Range when serializable. The request decodes first. */
  private learnerServes(path: string, raw: Buffer): boolean {
    if (path === STATUS_PATH) return true;
    if (path === RANGE_PATH) return decode<RangeRequest>(this.rangeType, raw).serializable === true;
    const t = this.requestType(path);
    // A request that does not decode is answered with the decoder's error, as grpc-go decodes first.
    if (t !== undefined) decode(t, raw);
    return false;
  }

  private requestType(path: string): MessageType | undefined {
    if (this.types.has(path)) return this.types.get(path);
    const slash = path.lastIndexOf('/');
    let t: MessageType | undefined;
    try {
      t = requestTypes(path.slice(1, slash))[path.slice(slash + 1)];
    } catch {
      t = undefined; // not a service of the .proto files (grpc.health.v1)
    }
    this.types.set(path, t);
    return t;
  }
}

function requiresLeader(ctx: CallContext): boolean {
  return ctx.metadata(REQUIRE_LEADER_KEY) === HAS_LEADER;
}
