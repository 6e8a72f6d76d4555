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
import { BackendApplier } from './backend_applier.ts';
import { applyConfChange, type ConfChangeDeps, type ConfChangeRaft } from './conf_change.ts';

export interface EntryApplierDeps extends ConfChangeDeps {
  raft: ConfChangeRaft & { term(): number };
  /** Schedules the backend commit of what a batch wrote. */
  committer: { schedule(): void };
}

export class EntryApplier implements ApplyDeps {
  readonly applier: BackendApplier;
  readonly proposer: Proposer;
  private readonly log: Logger;

  constructor(private readonly deps: EntryApplierDeps) {
    this.applier = new BackendApplier(deps.stores);
    this.proposer = deps.proposer;
    this.log = deps.log;
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
