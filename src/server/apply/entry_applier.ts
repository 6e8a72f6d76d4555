// The member's apply path (etcd's applyAll/applyEntries): committed entries go through applyEntries
// (apply.ts) and the applier chain into the stores. The entries that are not commands land here: conf
// changes (conf_change.ts), a new leader's empty entry, a member's published attributes. Every entry's
// index goes into the backend batch with its changes (the store's consistent index, read back as
// stores.appliedIndex()): nothing else in the member moves the applied index.
import type { Logger } from 'pino';
import type { Entry } from '../../raft/index.ts';
import { decodeAttributes } from '../../membership/member.ts';
import { idHex } from '../../pkg/ids.ts';
import type { Proposer } from '../propose.ts';
import { applyEntries, type ApplyDeps } from './apply.ts';
import type { AlarmResult, Applier, ApplyPosition } from './applier.ts';
import { BackendApplier } from './backend_applier.ts';
import { AlarmChains, type QuotaCheck } from './quota_applier.ts';
import { AlarmType, ALARM_TYPE_NAMES } from '../alarm_store.ts';
import { raiseNoSpace, type AlarmProposer } from '../quota.ts';
import { applyConfChange, type ConfChangeDeps, type ConfChangeRaft } from './conf_change.ts';
import { applyAuth, AuthApplier, type AuthApplyDeps } from './auth_applier.ts';
import type { Op, RequestAuth } from '../raft_request.ts';
import type { AuthStore } from '../../auth/store.ts';

export interface EntryApplierDeps extends ConfChangeDeps {
  raft: ConfChangeRaft & { term(): number };
  /** Schedules the backend commit of what a batch wrote. */
  committer: { schedule(): void };
  /** The backend quota the applier checks (server/quota.ts). */
  quota: QuotaCheck & { bytes: number };
  /** Proposes this member's NOSPACE alarm. */
  alarmProposer: AlarmProposer;
}

export class EntryApplier implements ApplyDeps {
  readonly backend: BackendApplier;
  readonly proposer: Proposer;
  private readonly log: Logger;
  private readonly chains: AlarmChains;
  /** This member's NOSPACE proposal in flight (one at a time). */
  private raising: Promise<void> | undefined;
  /** The alarms raised when the last entry applied, to log a change as etcd does. */
  private raised = { noSpace: false, corrupt: false };
  private readonly authDeps: AuthApplyDeps | undefined;
  private readonly authLayer: AuthApplier | undefined;

  constructor(private readonly deps: EntryApplierDeps) {
    const backend = new BackendApplier(deps.stores);
    this.backend = backend;
    this.proposer = deps.proposer;
    this.log = deps.log;
    this.chains = new AlarmChains(
      backend,
      deps.quota,
      () => backend.noKvChange(),
      (r) => this.logAlarms(r),
    );
    const { alarms } = deps.stores;
    this.raised = { noSpace: alarms.has(AlarmType.NOSPACE), corrupt: alarms.has(AlarmType.CORRUPT) };
    const store = deps.stores.auth as AuthStore | undefined;
    if (store) {
      const stores = deps.stores;
      this.authDeps = {
        store,
        lessor: () => stores.lessor,
        noKvChange: () => backend.noKvChange(),
        rev: () => stores.kv.rev(),
      };
      this.authLayer = new AuthApplier(this.authDeps);
    }
  }

  /**
   * The chain for the alarms raised now: NOSPACE adds the capped layer, CORRUPT the corrupt one; while
   * auth is enabled, its checks for the entry's caller go on top.
   */
  applier(auth?: RequestAuth): Applier {
    const { alarms } = this.deps.stores;
    const chain = this.chains.chainFor(alarms.has(AlarmType.NOSPACE), alarms.has(AlarmType.CORRUPT));
    const layer = this.authLayer;
    if (!layer || !this.authDeps!.store.enabled) return chain;
    layer.next = chain;
    layer.info = auth;
    return layer;
  }

  applyAuth(op: Op, req: unknown, auth: RequestAuth | undefined, index: number): unknown {
    if (!this.authDeps) throw new Error('apply: an auth entry on a member without an auth store');
    return applyAuth(this.authDeps, op, req, auth, index);
  }

  /** After an Alarm entry: logs a type raised or disarmed (the first of its type or the last), as etcd. */
  private logAlarms(r: AlarmResult): void {
    const { alarms } = this.deps.stores;
    const was = this.raised;
    this.raised = { noSpace: alarms.has(AlarmType.NOSPACE), corrupt: alarms.has(AlarmType.CORRUPT) };
    const changes: [boolean, boolean, AlarmType][] = [
      [was.noSpace, this.raised.noSpace, AlarmType.NOSPACE],
      [was.corrupt, this.raised.corrupt, AlarmType.CORRUPT],
    ];
    for (const [before, now, type] of changes) {
      if (before === now) continue;
      const from = r.alarms.find((a) => a.alarm === type)?.memberId;
      this.log.warn(
        { alarm: ALARM_TYPE_NAMES[type], ...(from !== undefined ? { from: idHex(from) } : {}) },
        now ? 'alarm raised' : 'alarm disarmed',
      );
    }
  }

  setPosition(p: ApplyPosition): void {
    this.backend.position = p;
  }

  onNoSpace(): Promise<void> | undefined {
    if (this.deps.stores.alarms.has(AlarmType.NOSPACE)) return undefined;
    if (this.raising) return this.raising;
    const bytes = this.deps.quota.bytes;
    this.log.warn(
      { 'quota-size-bytes': bytes, error: 'etcdserver: mvcc: database space exceeded' },
      'message exceeded backend quota; raising alarm',
    );
    this.raising = raiseNoSpace(this.deps.alarmProposer, this.deps.memberId).finally(() => {
      this.raising = undefined;
    });
    return this.raising;
  }

  /** Applies a batch of committed entries; returns the index of the last one applied (0: none). */
  apply(entries: Entry[]): number {
    return applyEntries(this, entries);
  }

  appliedIndex(): number {
    return this.deps.stores.appliedIndex();
  }

  applyConfChange(e: Entry, stored: boolean): void {
    applyConfChange(this.deps, e, stored);
  }

  applyEmpty(e: Entry): void {
    const { stores, raft } = this.deps;
    stores.kv.setConsistentIndex(e.index, e.term);
    // A leader's own first entry: every lease renewal of earlier terms is applied, so the lease
    // deadlines are complete and expiry can run here.
    if (raft.isLeader() && e.term === raft.term()) {
      this.log.info({ 'local-member-id': idHex(this.deps.memberId) }, 'lease expiry runs here now');
      stores.lessor.promote();
    }
  }

  applyAttributes(e: Entry, body: Uint8Array): void {
    const { stores } = this.deps;
    const a = decodeAttributes(body);
    stores.cluster.applyAttributes(a.id, a.name, a.clientURLs);
    stores.kv.setConsistentIndex(e.index, e.term);
  }

  commitBackend(): void {
    this.deps.committer.schedule();
  }
}
