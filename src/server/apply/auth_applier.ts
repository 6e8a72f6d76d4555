// The auth layer of the applier chain (etcd's authApplierV3), and the Auth service's commands as they
// apply (etcd's applierV3backend Auth* methods). While auth is enabled, every KV entry passes the
// permission checks first, with the user and auth revision its header carries, in etcd's order: a put
// needs write on its key, write on every key of the lease it attaches to, and read when it asks for
// the previous value; a delete needs write on its range (and read with prev_kv); a txn needs read on
// every compare's range, then each op of success and failure (nested txns too: etcd 3.4 skips them);
// a lease revoke needs write on every attached key. Auth commands that change the store, and the user
// and role lists, need the root role (etcd's needAdminPermission); UserGet and RoleGet are also open to
// the user asking about itself or one of its roles. While auth is disabled this layer is not in the
// chain at all: KV entries pay nothing for it.
import type { Lessor } from '../../lease/lessor.ts';
import type { AuthInfo, AuthStore } from '../../auth/store.ts';
import { toBigInt } from '../../proto/index.ts';
import type {
  CompactionRequest,
  DeleteRangeRequest,
  PutRequest,
  RequestOp,
  TxnRequest,
} from '../../proto/etcdserverpb.ts';
import { Op, type RequestAuth } from '../raft_request.ts';
import type {
  AlarmRequest,
  Applier,
  LeaseCheckpointRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
} from './applier.ts';

export interface AuthApplyDeps {
  store: AuthStore;
  lessor: () => Lessor;
  /** Records the entry's index when nothing else in it writes (a refused or auth-only entry). */
  noKvChange: () => void;
  /** The store's revision, for the response header. */
  rev: () => number;
}

/** Permission checks of a txn's compares and ops (etcd's checkTxnAuth, nested txns included). */
export function checkTxnAuth(store: AuthStore, ai: AuthInfo | undefined, t: TxnRequest): void {
  for (const c of t.compare ?? []) store.isRangePermitted(ai, c.key, c.rangeEnd);
  checkOps(store, ai, t.success ?? []);
  checkOps(store, ai, t.failure ?? []);
}

function checkOps(store: AuthStore, ai: AuthInfo | undefined, ops: readonly RequestOp[]): void {
  for (const op of ops) {
    if (op.requestRange) {
      store.isRangePermitted(ai, op.requestRange.key, op.requestRange.rangeEnd);
    } else if (op.requestPut) {
      store.isPutPermitted(ai, op.requestPut.key);
    } else if (op.requestDeleteRange) {
      const d = op.requestDeleteRange;
      if (d.prevKv) store.isRangePermitted(ai, d.key, d.rangeEnd);
      store.isDeleteRangePermitted(ai, d.key, d.rangeEnd);
    } else if (op.requestTxn) {
      checkTxnAuth(store, ai, op.requestTxn);
    }
  }
}

/** The auth layer over the rest of the chain (`next`), for one entry's caller (`info`). */
export class AuthApplier implements Applier {
  next!: Applier;
  info: AuthInfo | undefined;

  constructor(private readonly deps: AuthApplyDeps) {}

  /** Runs a check; a refusal still records the entry's index. */
  private check(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.noKvChange();
      throw err;
    }
  }

  private checkLeasePuts(id: bigint): void {
    const lease = id === 0n ? undefined : this.deps.lessor().lookup(id);
    if (!lease) return;
    for (const k of lease.keys) this.deps.store.isPutPermitted(this.info, Buffer.from(k, 'latin1'));
  }

  put(req: PutRequest) {
    const { store } = this.deps;
    this.check(() => {
      store.isPutPermitted(this.info, req.key);
      this.checkLeasePuts(toBigInt(req.lease));
      if (req.prevKv) store.isRangePermitted(this.info, req.key, undefined);
    });
    return this.next.put(req);
  }

  deleteRange(req: DeleteRangeRequest) {
    const { store } = this.deps;
    this.check(() => {
      store.isDeleteRangePermitted(this.info, req.key, req.rangeEnd);
      if (req.prevKv) store.isRangePermitted(this.info, req.key, req.rangeEnd);
    });
    return this.next.deleteRange(req);
  }

  txn(req: TxnRequest) {
    this.check(() => checkTxnAuth(this.deps.store, this.info, req));
    return this.next.txn(req);
  }

  compaction(req: CompactionRequest) {
    return this.next.compaction(req);
  }

  leaseGrant(req: LeaseGrantRequest) {
    return this.next.leaseGrant(req);
  }

  leaseRevoke(req: LeaseRevokeRequest) {
    this.check(() => this.checkLeasePuts(toBigInt(req.ID)));
    return this.next.leaseRevoke(req);
  }

  leaseCheckpoint(req: LeaseCheckpointRequest) {
    return this.next.leaseCheckpoint(req);
  }

  alarm(req: AlarmRequest) {
    return this.next.alarm(req);
  }
}

/** The ops etcd's needAdminPermission lists. */
const ADMIN_OPS = new Set<number>([
  Op.AuthEnable,
  Op.AuthDisable,
  Op.AuthUserAdd,
  Op.AuthUserDelete,
  Op.AuthUserChangePassword,
  Op.AuthUserGrantRole,
  Op.AuthUserRevokeRole,
  Op.AuthRoleAdd,
  Op.AuthRoleGrantPermission,
  Op.AuthRoleRevokePermission,
  Op.AuthRoleDelete,
  Op.AuthUserList,
  Op.AuthRoleList,
]);

interface Named {
  name?: string;
}

/**
 * Applies one Auth entry (any member, in log order) and returns its response. `index` is the entry's
 * log index: a simple token is named after it.
 */
export function applyAuth(
  deps: AuthApplyDeps,
  op: Op,
  req: unknown,
  caller: RequestAuth | undefined,
  index: number,
): unknown {
  const { store } = deps;
  deps.noKvChange();
  const ai: AuthInfo | undefined = caller;
  if (ADMIN_OPS.has(op)) store.isAdminPermitted(ai);
  const header = () => ({ revision: deps.rev() });
  const r = req as Record<string, unknown>;
  const str = (k: string) => (typeof r[k] === 'string' ? (r[k] as string) : '');
  const bytes = (k: string) => Buffer.from((r[k] as Uint8Array | undefined) ?? []);
  switch (op) {
    case Op.AuthEnable:
      store.authEnable();
      return { header: header() };
    case Op.AuthDisable:
      store.authDisable();
      return { header: header() };
    case Op.Authenticate: {
      const name = (req as Named).name ?? '';
      store.checkAuthenticate(name);
      const token = store.tokens.assign(name, store.revision(), index, str('simpleToken'));
      if (typeof token === 'string') return { header: header(), token };
      const h = header();
      return token.then((t) => ({ header: h, token: t }));
    }
    case Op.AuthUserAdd: {
      const opts = r['options'] as { noPassword?: boolean } | null | undefined;
      store.userAdd(
        str('name'),
        Buffer.from(str('hashedPassword'), 'latin1'),
        opts ? { noPassword: !!opts.noPassword } : undefined,
      );
      return { header: header() };
    }
    case Op.AuthUserDelete:
      store.userDelete(str('name'));
      return { header: header() };
    case Op.AuthUserChangePassword:
      store.userChangePassword(str('name'), Buffer.from(str('hashedPassword'), 'latin1'));
      return { header: header() };
    case Op.AuthUserGrantRole:
      store.userGrantRole(str('user'), str('role'));
      return { header: header() };
    case Op.AuthUserRevokeRole:
      store.userRevokeRole(str('name'), str('role'));
      return { header: header() };
    case Op.AuthUserGet: {
      const name = str('name');
      try {
        store.isAdminPermitted(ai);
      } catch (err) {
        if (name !== ai?.username) throw err;
      }
      return { header: header(), roles: store.userGet(name) };
    }
    case Op.AuthUserList:
      return { header: header(), users: store.userList() };
    case Op.AuthRoleAdd:
      store.roleAdd(str('name'));
      return { header: header() };
    case Op.AuthRoleDelete:
      store.roleDelete(str('role'));
      return { header: header() };
    case Op.AuthRoleGet: {
      const role = str('role');
      try {
        store.isAdminPermitted(ai);
      } catch (err) {
        if (!store.hasRole(ai?.username ?? '', role)) throw err;
      }
      return { header: header(), perm: store.roleGet(role) };
    }
    case Op.AuthRoleList:
      return { header: header(), roles: store.roleList() };
    case Op.AuthRoleGrantPermission: {
      const p = (r['perm'] ?? {}) as { permType?: number; key?: Uint8Array; rangeEnd?: Uint8Array };
      store.roleGrantPermission(str('name'), {
        permType: p.permType ?? 0,
        key: Buffer.from(p.key ?? []),
        rangeEnd: Buffer.from(p.rangeEnd ?? []),
      });
      return { header: header() };
    }
    case Op.AuthRoleRevokePermission:
      store.roleRevokePermission(str('role'), bytes('key'), bytes('rangeEnd'));
      return { header: header() };
    default:
      throw new Error(`apply: not an auth operation ${op}`);
  }
}
