// The quota and alarm layers of the applier chain (etcd's quotaApplierV3, applierV3Capped,
// applierV3Corrupt). The quota layer always wraps the backend; an active NOSPACE alarm puts the capped
// layer on top, a CORRUPT alarm the corrupt one (chainFor). A layer that refuses an entry still
// records its index (`skip`), so the applied index moves past every entry.
import type { PutRequest, TxnRequest } from '../../proto/etcdserverpb.ts';
import type { ClientError } from '../../pkg/errors.ts';
import { ErrCorrupt, ErrNoSpace } from '../errors.ts';
import { costLeaseGrant, costPut, costTxn } from '../quota.ts';
import type { AlarmResult, Applier, LeaseGrantRequest } from './applier.ts';

/** The quota's question (server/quota.ts Quota). */
export interface QuotaCheck {
  available(cost: number): boolean;
}

/** Every call goes to `next` (a base for the layers below, which override what they change). */
class Wrapper implements Applier {
  constructor(protected readonly next: Applier) {}
  put(req: Parameters<Applier['put']>[0]) {
    return this.next.put(req);
  }
  deleteRange(req: Parameters<Applier['deleteRange']>[0]) {
    return this.next.deleteRange(req);
  }
  txn(req: Parameters<Applier['txn']>[0]) {
    return this.next.txn(req);
  }
  compaction(req: Parameters<Applier['compaction']>[0]) {
    return this.next.compaction(req);
  }
  leaseGrant(req: Parameters<Applier['leaseGrant']>[0]) {
    return this.next.leaseGrant(req);
  }
  leaseRevoke(req: Parameters<Applier['leaseRevoke']>[0]) {
    return this.next.leaseRevoke(req);
  }
  leaseCheckpoint(req: Parameters<Applier['leaseCheckpoint']>[0]) {
    return this.next.leaseCheckpoint(req);
  }
  alarm(req: Parameters<Applier['alarm']>[0]) {
    return this.next.alarm(req);
  }
}

/**
 * etcd's quotaApplierV3: a put, a txn with puts or a lease grant that does not fit is still applied
 * (every member must apply the same log), then answered with ErrNoSpace; apply.ts raises the alarm.
 */
export class QuotaApplier extends Wrapper {
  constructor(
    next: Applier,
    private readonly quota: QuotaCheck,
  ) {
    super(next);
  }

  override put(req: PutRequest) {
    const ok = this.quota.available(costPut(req));
    const r = this.next.put(req);
    if (!ok) throw new ErrNoSpace();
    return r;
  }

  override txn(req: TxnRequest) {
    const ok = this.quota.available(costTxn(req));
    const r = this.next.txn(req);
    if (!ok) throw new ErrNoSpace();
    return r;
  }

  override leaseGrant(req: LeaseGrantRequest) {
    const ok = this.quota.available(costLeaseGrant());
    const r = this.next.leaseGrant(req);
    if (!ok) throw new ErrNoSpace();
    return r;
  }
}

/** Refuses with `err` after recording the entry's index. */
function refuse(skip: () => void, Err: new () => ClientError): never {
  skip();
  throw new Err();
}

/** etcd's applierV3Capped (NOSPACE raised): puts, txns with puts and lease grants are refused. */
export class CappedApplier extends Wrapper {
  constructor(
    next: Applier,
    private readonly skip: () => void,
  ) {
    super(next);
  }

  override put(): never {
    return refuse(this.skip, ErrNoSpace);
  }

  override txn(req: TxnRequest) {
    if (costTxn(req) > 0) refuse(this.skip, ErrNoSpace);
    return this.next.txn(req);
  }

  override leaseGrant(): never {
    return refuse(this.skip, ErrNoSpace);
  }
}

/**
 * etcd's applierV3Corrupt (CORRUPT raised): every command that reaches the log is refused but lease
 * checkpoints and alarms. Reads never pass here (a Range, a read-only Txn), so they go on, as in 3.4.
 */
export class CorruptApplier extends Wrapper {
  constructor(
    next: Applier,
    private readonly skip: () => void,
  ) {
    super(next);
  }

  override put(): never {
    return refuse(this.skip, ErrCorrupt);
  }
  override deleteRange(): never {
    return refuse(this.skip, ErrCorrupt);
  }
  override txn(): never {
    return refuse(this.skip, ErrCorrupt);
  }
  override compaction(): never {
    return refuse(this.skip, ErrCorrupt);
  }
  override leaseGrant(): never {
    return refuse(this.skip, ErrCorrupt);
  }
  override leaseRevoke(): never {
    return refuse(this.skip, ErrCorrupt);
  }
}

/** The outermost layer: tells `after` once an Alarm entry applied (the chain may change then). */
class AlarmWatch extends Wrapper {
  constructor(
    next: Applier,
    private readonly after: (r: AlarmResult) => void,
  ) {
    super(next);
  }

  override alarm(req: Parameters<Applier['alarm']>[0]) {
    const r = this.next.alarm(req);
    this.after(r);
    return r;
  }
}

/** The four chains an alarm state selects (etcd swaps its applyV3 on each activation and disarm). */
export class AlarmChains {
  private readonly chains: Applier[];

  /** `afterAlarm`: called when an Alarm entry applied, with its result, to log what changed. */
  constructor(
    backend: Applier,
    quota: QuotaCheck,
    skip: () => void,
    afterAlarm: (r: AlarmResult) => void = () => undefined,
  ) {
    const base = new QuotaApplier(backend, quota);
    const capped = new CappedApplier(base, skip);
    this.chains = [base, capped, new CorruptApplier(base, skip), new CorruptApplier(capped, skip)].map(
      (c) => new AlarmWatch(c, afterAlarm),
    );
  }

  chainFor(noSpace: boolean, corrupt: boolean): Applier {
    return this.chains[(noSpace ? 1 : 0) + (corrupt ? 2 : 0)]!;
  }
}
