// The KV commands (etcd's RaftKV, v3_server.go's Range/Put/DeleteRange/Txn/Compact). Writes go through
// the log; reads are local, after a ReadIndex barrier unless the request is serializable. Both of those
// decisions are made here: a Range with `serializable` reads at once, a read-only Txn always takes the
// barrier (as tetcd always has), and any other Txn is proposed. Every response leaves with its header
// complete (etcd's v3rpc fills it after the call; here it is filled in the same step that builds or
// awaits the response, so no request pays for an extra promise).
// With auth enabled, reads are checked here as etcd's doSerialize does (permission, read, then the
// auth revision the token was checked at must still be current); writes carry the caller in their log
// entry and are checked when applied (apply/auth_applier.ts).
import type {
  CompactionRequest,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Header,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../proto/etcdserverpb.ts';
import type { AuthInfo, RaftKV, RaftStatus } from './api.ts';
import type { AuthStore } from '../auth/store.ts';
import { ErrAuthOldRevision } from '../auth/errors.ts';
import { checkTxnAuth } from './apply/auth_applier.ts';
import type { Proposer } from './propose.ts';
import type { Stores } from './stores.ts';
import { Op } from './raft_request.ts';
import { executeRange } from './txn/range.ts';
import { executeTxn, isTxnReadOnly } from './txn/txn.ts';
import { NO_LEASES, type WriteCtx, type WriteView } from './txn/kv_view.ts';
import { costPut, costTxn, type QuotaGate } from './quota.ts';
import { sabotaged } from '../pkg/sabotage.ts';

/** Never true unless TETCD_SABOTAGE names stale-read (the robustness suite shows it is caught). */
const STALE_READ = sabotaged('stale-read');

/** The read barrier (server/read_index.ts): undefined when a local read is linearizable already. */
export interface LinearizableReads {
  barrier(): Promise<void> | undefined;
}

export class KVServer implements RaftKV {
  constructor(
    private readonly stores: Stores,
    private readonly proposer: Proposer,
    private readonly reads: LinearizableReads,
    private readonly status: Pick<RaftStatus, 'header'>,
    /** The backend quota, checked before a put or a txn with puts is proposed (etcd's quotaKVServer). */
    private readonly quota?: QuotaGate,
    private readonly auth?: AuthStore,
  ) {}

  range(req: RangeRequest, ai?: AuthInfo): RangeResponse | Promise<RangeResponse> {
    // Linearizable (the default): wait for the ReadIndex barrier, batched across requests; none is
    // needed for a serializable read or on a lone voter that leads.
    // TETCD_SABOTAGE=stale-read (pkg/sabotage.ts, the robustness suite's teeth): no barrier at all.
    const barrier = req.serializable || STALE_READ ? undefined : this.reads.barrier();
    return barrier ? barrier.then(() => this.localRange(req, ai)) : this.localRange(req, ai);
  }

  async put(raw: Uint8Array, req: PutRequest, ai?: AuthInfo): Promise<PutResponse> {
    const refused = this.quota?.check(costPut(req));
    if (refused) await refused;
    const resp = await this.proposer.propose<PutResponse>(Op.Put, raw, req, ai);
    this.status.header(resp.header);
    return resp;
  }

  async deleteRange(raw: Uint8Array, req: DeleteRangeRequest, ai?: AuthInfo): Promise<DeleteRangeResponse> {
    const resp = await this.proposer.propose<DeleteRangeResponse>(Op.DeleteRange, raw, req, ai);
    this.status.header(resp.header);
    return resp;
  }

  txn(raw: Uint8Array, req: TxnRequest, ai?: AuthInfo): TxnResponse | Promise<TxnResponse> {
    const refused = this.quota?.check(costTxn(req));
    if (refused) return refused;
    if (!isTxnReadOnly(req)) return this.proposeTxn(raw, req, ai);
    const barrier = this.reads.barrier();
    if (barrier) return barrier.then(() => this.readOnlyTxn(req, ai));
    return this.readOnlyTxn(req, ai);
  }

  async compact(raw: Uint8Array, req: CompactionRequest, ai?: AuthInfo): Promise<{ header: Header }> {
    const resp = await this.proposer.propose<{ header: Header }>(Op.Compaction, raw, req, ai);
    this.status.header(resp.header);
    return resp;
  }

  private async proposeTxn(raw: Uint8Array, req: TxnRequest, ai: AuthInfo | undefined): Promise<TxnResponse> {
    const resp = await this.proposer.propose<TxnResponse>(Op.Txn, raw, req, ai);
    this.status.header(resp.header);
    return resp;
  }

  /**
   * etcd's doSerialize, after the read: the token's auth revision must still be the store's (also
   * while auth is disabled: a stale JWT is told so either way).
   */
  private checkRevision(ai: AuthInfo | undefined): void {
    const auth = this.auth;
    if (ai && ai.revision !== 0 && auth && ai.revision !== auth.revision()) throw new ErrAuthOldRevision();
  }

  private localRange(req: RangeRequest, ai: AuthInfo | undefined): RangeResponse {
    const auth = this.auth;
    const checked = auth !== undefined && auth.enabled;
    if (checked) auth.isRangePermitted(ai, req.key, req.rangeEnd);
    const txn = this.stores.kv.read();
    try {
      const resp = executeRange(txn, req);
      if (ai) this.checkRevision(ai);
      this.status.header(resp.header);
      return resp;
    } finally {
      txn.end();
    }
  }

  private readOnlyTxn(req: TxnRequest, ai: AuthInfo | undefined): TxnResponse {
    const auth = this.auth;
    const checked = auth !== undefined && auth.enabled;
    if (checked) checkTxnAuth(auth, ai, req);
    const kv = this.stores.kv;
    const txn = kv.read();
    try {
      // A read-only txn runs on a read view shaped like a write txn that never writes.
      const view = txn as unknown as WriteView;
      const ctx: WriteCtx = { view, beginRev: kv.rev(), changes: 0 };
      const resp = executeTxn(ctx, req, NO_LEASES);
      if (ai) this.checkRevision(ai);
      this.status.header(resp.header);
      return resp;
    } finally {
      txn.end();
    }
  }
}
