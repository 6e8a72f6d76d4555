// What the client API (api/grpc, api/http) sees of a member: narrow interfaces the member implements,
// as etcd's v3rpc depends on etcdserver.RaftKV, Lessor, RaftStatusGetter and friends, never on the
// member object or its parts. Besides this module, the API may import only error classes (errors.ts
// of any layer), proto/ and pkg/; a lint rule (scripts/eslint_layers.mjs) enforces it. So the types
// these interfaces mention, and the one check the API makes with the membership's rules
// (parsePeerURLs), are re-exported here.
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
import type { Int64 } from '../proto/index.ts';
import type { Watcher, WatcherOptions } from '../mvcc/watchable_store.ts';
import type { Member } from '../membership/member.ts';

export type { Member } from '../membership/member.ts';
export type { WatchDelivery, WatchEvent, WatchKV, Watcher, WatcherOptions } from '../mvcc/watchable_store.ts';
/** Peer URLs are checked at the API edge, before anything is proposed (as etcd's v3rpc does). */
export { parsePeerURLs } from '../membership/member.ts';

/**
 * The KV commands (etcd's RaftKV). `raw` is the request as it came off the wire: it is spliced into the
 * log entry unchanged. Range is linearizable unless the request is serializable; a read-only Txn is
 * linearizable. Responses come with their header complete (cluster, member, revision, term).
 */
export interface RaftKV {
  range(req: RangeRequest, ai?: AuthInfo): RangeResponse | Promise<RangeResponse>;
  put(raw: Uint8Array, req: PutRequest, ai?: AuthInfo): Promise<PutResponse>;
  deleteRange(raw: Uint8Array, req: DeleteRangeRequest, ai?: AuthInfo): Promise<DeleteRangeResponse>;
  txn(raw: Uint8Array, req: TxnRequest, ai?: AuthInfo): TxnResponse | Promise<TxnResponse>;
  compact(raw: Uint8Array, req: CompactionRequest, ai?: AuthInfo): Promise<{ header: Header }>;
}

/**
 * The caller of a request, from its auth token (or its client certificate's CN with
 * --client-cert-auth): the user and the auth revision the token was checked at (etcd's AuthInfo). Every
 * command above takes it as its last argument, undefined for an anonymous call; reads are checked
 * against it here, writes carry it in their log entry and are checked when they apply.
 */
export interface AuthInfo {
  username: string;
  revision: number;
}

/** What a call's auth is read from (the router's CallContext has these). */
export interface AuthSource {
  metadata(name: string): string | undefined;
  readonly certCommonName?: string | undefined;
  readonly remoteAddress?: string | undefined;
}

/**
 * The Auth service and the checks the API makes itself (etcd's AuthStore as v3rpc uses it). Errors are
 * the classes of auth/errors.ts.
 */
export interface Auth {
  /** Auth is enabled: a plain read, made on every call before anything else of auth is looked at. */
  readonly enabled: boolean;
  /**
   * The caller: the token in metadata `token`, else `authorization` (etcd's order); without one, the
   * client certificate's CN when --client-cert-auth is on; else undefined. A token that names no one
   * throws ErrInvalidAuthToken. A simple token issued by an entry this member has not applied yet
   * waits for it.
   */
  authInfo(src: AuthSource): AuthInfo | undefined | Promise<AuthInfo | undefined>;
  /** Throws unless the caller has the root role (nothing while auth is disabled). */
  isAdminPermitted(ai: AuthInfo | undefined): void;
  /** Throws unless the caller may read [key, rangeEnd) (Watch creation). */
  isRangePermitted(ai: AuthInfo | undefined, key: Uint8Array, rangeEnd: Uint8Array | undefined): void;
  /**
   * Authenticate: checks the password, then a token is assigned through the log (a token the call
   * itself carries is looked up before proposing, as etcd's raftRequest does).
   */
  authenticate(name: string, password: string, src: AuthSource): Promise<{ header: Header; token: string }>;
  /**
   * Any other Auth RPC by its method name (AuthEnable, UserAdd, RoleGet, ...): through the log, as
   * etcd 3.4 does even for the reads; the response with its header filled.
   */
  request(
    method: string,
    req: Record<string, unknown>,
    ai: AuthInfo | undefined,
  ): Promise<Record<string, unknown>>;
}

/** A lease's time to live as this member's lessor holds it. */
export interface LeaseTimeToLive {
  /** Whole seconds left, truncated (etcd's int64(Remaining().Seconds())). */
  TTL: number;
  grantedTTL: number;
  /** Attached keys (sorted), when asked for. */
  keys: Buffer[];
}

/** The lease commands (etcd's etcdserver.Lessor). Response headers carry the revision only. */
export interface Lessor {
  /** Chooses an ID (when 0) and proposes the grant. */
  leaseGrant(
    req: { TTL: Int64; ID: Int64 },
    ai?: AuthInfo,
  ): Promise<{ header: Header; ID: bigint; TTL: number }>;
  leaseRevoke(raw: Uint8Array, req: { ID: Int64 }, ai?: AuthInfo): Promise<{ header: Header }>;
  /**
   * Leader only (a follower forwards keep-alives): restarts the lease's TTL and returns it, once the
   * log holds the renewal; undefined for an unknown lease.
   */
  leaseRenew(id: bigint): number | undefined | Promise<number | undefined>;
  /** Leader only: undefined for an unknown lease. */
  leaseTimeToLive(id: bigint, keys: boolean): LeaseTimeToLive | undefined;
  leaseLeases(): bigint[];
  /** Keep-alive and time-to-live are answered by the leader, which expires leases: this member leads. */
  isLeader(): boolean;
}

/** The watchable store as a Watch stream uses it. */
export interface Watchable {
  watch(opts: WatcherOptions): Watcher;
  cancel(w: Watcher): void;
  /** A congested stream drained: its watchers take live events again. */
  resume(w: Watcher): void;
  allSynced(ws: Iterable<Watcher>): boolean;
}

/** The fields of etcdserverpb.ResponseHeader, IDs as bigint. */
export interface ResponseHeaderFields {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

/** The header of the Cluster service's responses: etcd's carries no revision. */
export type ClusterHeaderFields = Omit<ResponseHeaderFields, 'revision'>;

/**
 * The membership commands (the etcdserverpb.Cluster service): checks with the cluster's validators,
 * then a conf change through raft, answered once this member applies it. Errors are the classes of
 * membership/errors.ts and server/errors.ts. A change waits for a leader and its apply as long as the
 * caller does: `signal` (the call's) ends the wait, as etcd bounds a conf change by the client only.
 */
export interface Cluster {
  /**
   * MemberAdd. `peerURLs` are already checked and sorted (parsePeerURLs). Resolves with the new member
   * (its ID derived from the URLs and the time) and the member list after the add.
   */
  addMember(
    peerURLs: string[],
    isLearner: boolean,
    signal?: AbortSignal,
  ): Promise<{ member: Member; members: Member[] }>;
  /** MemberRemove: resolves with the member list after the removal. */
  removeMember(id: bigint, signal?: AbortSignal): Promise<Member[]>;
  /** MemberUpdate: replaces the peer URLs; resolves with the member list after the update. */
  updateMember(id: bigint, peerURLs: string[], signal?: AbortSignal): Promise<Member[]>;
  /** MemberPromote: learner to voter (the leader checks readiness); resolves with the member list after. */
  promoteMember(id: bigint, signal?: AbortSignal): Promise<Member[]>;
  /** MemberList: with `linearizable`, only after a ReadIndex round confirms this member is current. */
  listMembers(linearizable: boolean): Promise<Member[]>;
  /** The header to put on a response, taken when the response is built. */
  responseHeader(): ClusterHeaderFields;
}

/** etcdserverpb.AlarmType names by number (Status errors, /health's ?exclude=, logs). */
export const ALARM_TYPE_NAMES: Readonly<Record<number, string>> = { 0: 'NONE', 1: 'NOSPACE', 2: 'CORRUPT' };

/** An alarm raised on a member (etcdserverpb.AlarmMember; `alarm` is the AlarmType number). */
export interface AlarmMember {
  memberId: bigint;
  alarm: number;
}

/** What Maintenance.Status reports of this member. */
export interface MemberStatus {
  dbSize: number;
  dbSizeInUse: number;
  leader: bigint;
  raftIndex: number;
  raftTerm: number;
  raftAppliedIndex: number;
  isLearner: boolean;
  /** The alarms this member's store holds (Status lists them among its errors). */
  alarms: AlarmMember[];
}

/** The maintenance commands. */
export interface Maintenance {
  status(): MemberStatus;
  /** Maintenance.Snapshot: the backend as etcd's bbolt file, read from one point in time. */
  snapshot(): Promise<SnapshotExport>;
  hashKV(rev: number): Promise<{ hash: number; compactRevision: number; hashRevision: number }>;
  /** Maintenance.Hash: the whole backend's hash (backend/hash.ts) and the revision it was taken at. */
  hash(): Promise<{ hash: number; revision: number }>;
  /** Maintenance.Defragment: compacts the backend's file while requests go on (Backend.defragment). */
  defragment(): Promise<void>;
  /** Only the leader hands over, and only to a voter. */
  moveLeader(target: bigint): Promise<void>;
  /**
   * Maintenance.Alarm (GET, ACTIVATE, DEACTIVATE): through the log, as etcd's, so even a GET needs a
   * quorum and is linearizable. `raw` is the AlarmRequest as it came off the wire.
   */
  alarm(
    raw: Uint8Array,
    req: { action: number; memberID: Int64; alarm: number },
  ): Promise<{ alarms: AlarmMember[] }>;
}

/** A snapshot being sent: its chunks read lazily; close() releases the read transaction they come from. */
export interface SnapshotExport {
  /** Bytes of the bbolt file, without the sha256 trailer. */
  readonly size: number;
  readonly chunks: AsyncIterator<Buffer>;
  close(): void;
}

/** This member's view for response headers (etcd's RaftStatusGetter and v3rpc's header). */
export interface RaftStatus {
  readonly memberId: bigint;
  term(): number;
  /** The store's current revision. */
  rev(): number;
  /** Fills cluster_id, member_id and raft_term of a response header; the revision is the caller's. */
  header(h: Header): Header;
}

/** Request limits from the member's configuration. */
export interface ApiLimits {
  /** --max-request-bytes. */
  readonly maxRequestBytes: number;
  /** --max-txn-ops. */
  readonly maxTxnOps: number;
  /** --watch-progress-notify-interval, ms. */
  readonly watchProgressNotifyIntervalMs: number;
  /** --election-timeout, ms (default 1000): streams that require a leader are checked this often. */
  readonly electionMs?: number;
}

/**
 * What the API checks before any handler runs (etcd's v3rpc interceptors). Plain fields the member
 * keeps current, so that a call pays one read, not a function call.
 */
export interface CallGate {
  /** This member is a learner (etcd: IsMemberExist(self) && IsLearner()). */
  readonly learner: boolean;
  /** This member knows no leader (raft's lead is None). */
  readonly noLeader: boolean;
}

/** Everything the client API takes from a member. */
export interface ClientApi extends RaftStatus {
  readonly gate: CallGate;
  readonly kv: RaftKV;
  readonly lessor: Lessor;
  readonly watchable: Watchable;
  readonly cluster: Cluster;
  readonly maintenance: Maintenance;
  readonly auth: Auth;
  readonly limits: ApiLimits;
  /**
   * For requests only the leader answers (lease keep-alive and time-to-live, member promote):
   * undefined when this member leads and answers itself, else the leader's response to `raw` on gRPC
   * `path`. Waits up to the request timeout for a leader ("etcdserver: no leader" after that).
   */
  forwardToLeader(path: string, raw: Uint8Array, token?: string): Promise<Buffer | undefined>;
  /** The raft state as etcd's /debug/vars shows it ("raft.status"). */
  raftStatus(): unknown;
}
