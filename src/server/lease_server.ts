// The lease commands (etcd's Lessor in v3_server.go): grant and revoke go through the log; renewals
// (lease/lease_renew.ts) and expiry (lease/lease_loop.ts) run on the leader and reach the log as
// checkpoint and revoke entries; time-to-live and listing read the lessor.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Lessor as LeaseStore } from '../lease/lessor.ts';
import { MAX_LEASE_TTL } from '../lease/lessor.ts';
import { LeaseLoop } from '../lease/lease_loop.ts';
import { LeaseRenewals } from '../lease/lease_renew.ts';
import { fromBigInt, messageType, toBigInt, toNumber, type Int64 } from '../proto/index.ts';
import type { Header } from '../proto/etcdserverpb.ts';
import type { AuthInfo, LeaseTimeToLive, Lessor } from './api.ts';
import { ErrLeaseNotFound, ErrLeaseTTLTooLarge } from './errors.ts';
import type { Proposer } from './propose.ts';
import { Op } from './raft_request.ts';
import { costLeaseGrant, type QuotaGate } from './quota.ts';

const LeaseGrantPb = messageType('etcdserverpb.LeaseGrantRequest');
const LeaseRevokePb = messageType('etcdserverpb.LeaseRevokeRequest');
const LeaseCheckpointPb = messageType('etcdserverpb.LeaseCheckpointRequest');

/** What the lease commands need of the raft node. */
export interface LeaseRaft {
  isLeader(): boolean;
  soleVoter(): boolean;
}

export class LeaseServer implements Lessor {
  private readonly loop: LeaseLoop;
  private readonly renewals: LeaseRenewals;

  constructor(
    private readonly lessor: LeaseStore,
    private readonly proposer: Proposer,
    private readonly raft: LeaseRaft,
    log: Logger,
    /** The backend quota, checked before a grant is proposed (etcd's quotaLeaseServer). */
    private readonly quota?: QuotaGate,
    /**
     * Who the member's own revocations of expired leases come from while auth is enabled: root at the
     * current auth revision (etcd's WithRoot), so the attached keys go whatever the permissions.
     */
    private readonly asRoot: () => AuthInfo | undefined = () => undefined,
  ) {
    this.loop = new LeaseLoop({
      lessor,
      revoke: (id) => {
        const req = { ID: fromBigInt(id) };
        return this.leaseRevoke(LeaseRevokePb.encode(req).finish(), req, this.asRoot());
      },
      checkpoint: (cps) => this.checkpoint(cps),
      log,
    });
    this.renewals = new LeaseRenewals({
      lessor,
      soleVoter: () => raft.soleVoter(),
      checkpoint: (cps) => this.checkpoint(cps),
    });
  }

  /** Starts the expiry and checkpoint timers (they act only while this member leads). */
  start(): void {
    this.loop.start();
  }

  /** Stops the timers; the remaining TTLs are checkpointed through the log (still running). */
  close(): void {
    this.loop.close();
  }

  async leaseGrant(
    req: { TTL: Int64; ID: Int64 },
    ai?: AuthInfo,
  ): Promise<{ header: Header; ID: bigint; TTL: number }> {
    const ttl = toNumber(req.TTL);
    // The quota first: etcd's quotaLeaseServer wraps the whole call.
    const refused = this.quota?.check(costLeaseGrant());
    if (refused) await refused;
    if (ttl > MAX_LEASE_TTL) throw new ErrLeaseTTLTooLarge();
    let id = toBigInt(req.ID);
    // The ID is chosen before proposing so that every member applies the same one. A chosen ID that
    // is taken fails when applied (ErrLeaseExist), as in etcd; a client's ID in use fails there too.
    if (id === 0n) {
      do id = randomBytes(8).readBigUInt64BE() >> 1n;
      while (id === 0n || this.lessor.lookup(id));
    }
    const raw = LeaseGrantPb.encode({ TTL: ttl, ID: fromBigInt(id) }).finish();
    return this.proposer.propose(Op.LeaseGrant, raw, { TTL: ttl, ID: fromBigInt(id) }, ai);
  }

  leaseRevoke(raw: Uint8Array, req: { ID: Int64 }, ai?: AuthInfo): Promise<{ header: Header }> {
    if (!this.lessor.lookup(toBigInt(req.ID))) return Promise.reject(new ErrLeaseNotFound());
    return this.proposer.propose(Op.LeaseRevoke, raw, req, ai);
  }

  leaseRenew(id: bigint): number | undefined | Promise<number | undefined> {
    return this.renewals.renew(id);
  }

  leaseTimeToLive(id: bigint, keys: boolean): LeaseTimeToLive | undefined {
    const l = this.lessor.lookup(id);
    if (!l) return undefined;
    return {
      TTL: this.lessor.timeToLive(id),
      grantedTTL: l.ttl,
      keys: keys ? [...l.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
    };
  }

  leaseLeases(): bigint[] {
    return this.lessor.ids();
  }

  isLeader(): boolean {
    return this.raft.isLeader();
  }

  private checkpoint(cps: { id: bigint; remainingTtl: number }[]): Promise<unknown> {
    const msg = { checkpoints: cps.map((c) => ({ ID: fromBigInt(c.id), remaining_TTL: c.remainingTtl })) };
    return this.proposer.propose(Op.LeaseCheckpoint, LeaseCheckpointPb.encode(msg).finish(), msg);
  }
}
