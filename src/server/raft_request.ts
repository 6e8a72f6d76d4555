// The payload of a log entry: etcdserverpb.InternalRaftRequest carrying the proposer's wait id and the
// client's request. The client's bytes are spliced in as they arrived (an embedded message is just
// tag + length + bytes), so proposing costs no re-encoding. A request made with an auth token (or a
// client certificate's CN) carries the caller's user name and auth revision in the header, as etcd's
// raftRequest does, so every member's auth applier checks it the same way; without one, the header is
// the wait id alone and the bytes are what they were before auth existed.
import { messageType, toBigInt, type Int64 } from '../proto/index.ts';
import { Reader, sizeBytes, sizeU64, sizeUint, WIRE_BYTES, Writer } from '../raft/raftpb_wire.ts';
import type { CompactionRequest, DeleteRangeRequest, PutRequest, TxnRequest } from '../proto/etcdserverpb.ts';

/** InternalRaftRequest field numbers of the request kinds that go through the log. */
export const enum Op {
  Put = 4,
  DeleteRange = 5,
  Txn = 6,
  Compaction = 7,
  LeaseGrant = 8,
  LeaseRevoke = 9,
  Alarm = 10,
  LeaseCheckpoint = 11,
  // The Auth service (etcd 3.4's InternalRaftRequest numbers).
  AuthEnable = 1000,
  AuthDisable = 1011,
  Authenticate = 1012,
  AuthUserAdd = 1100,
  AuthUserDelete = 1101,
  AuthUserGet = 1102,
  AuthUserChangePassword = 1103,
  AuthUserGrantRole = 1104,
  AuthUserRevokeRole = 1105,
  AuthUserList = 1106,
  AuthRoleList = 1107,
  AuthRoleAdd = 1200,
  AuthRoleDelete = 1201,
  AuthRoleGet = 1202,
  AuthRoleGrantPermission = 1203,
  AuthRoleRevokePermission = 1204,
  /**
   * A member publishes its name and client URLs: private to tetcd, numbered as etcd 3.5's
   * cluster_member_attr_set (1301), a number etcd 3.4 does not use. It was 1100 before auth existed,
   * which is etcd's auth_user_add: a data dir written before then replays its attributes as user adds.
   */
  Attributes = 1301,
}

/** The first and last op numbers of the Auth service. */
export const AUTH_OP_MIN = 1000;
export const AUTH_OP_MAX = 1204;

/** The caller a request carries in its header (etcd's RequestHeader username and auth_revision). */
export interface RequestAuth {
  username: string;
  revision: number;
}

const InternalRaftRequest = messageType('etcdserverpb.InternalRaftRequest');

/** The request message of each Auth op. */
const AUTH_TYPES = new Map<number, ReturnType<typeof messageType>>(
  (
    [
      [Op.AuthEnable, 'AuthEnableRequest'],
      [Op.AuthDisable, 'AuthDisableRequest'],
      [Op.Authenticate, 'InternalAuthenticateRequest'],
      [Op.AuthUserAdd, 'AuthUserAddRequest'],
      [Op.AuthUserDelete, 'AuthUserDeleteRequest'],
      [Op.AuthUserGet, 'AuthUserGetRequest'],
      [Op.AuthUserChangePassword, 'AuthUserChangePasswordRequest'],
      [Op.AuthUserGrantRole, 'AuthUserGrantRoleRequest'],
      [Op.AuthUserRevokeRole, 'AuthUserRevokeRoleRequest'],
      [Op.AuthUserList, 'AuthUserListRequest'],
      [Op.AuthRoleList, 'AuthRoleListRequest'],
      [Op.AuthRoleAdd, 'AuthRoleAddRequest'],
      [Op.AuthRoleDelete, 'AuthRoleDeleteRequest'],
      [Op.AuthRoleGet, 'AuthRoleGetRequest'],
      [Op.AuthRoleGrantPermission, 'AuthRoleGrantPermissionRequest'],
      [Op.AuthRoleRevokePermission, 'AuthRoleRevokePermissionRequest'],
    ] as const
  ).map(([op, name]) => [op, messageType(`etcdserverpb.${name}`)]),
);

/** The request type an Auth op carries (to encode it for the log). */
export function authRequestType(op: Op): ReturnType<typeof messageType> {
  const t = AUTH_TYPES.get(op);
  if (!t) throw new Error(`not an auth op: ${op}`);
  return t;
}

/** The header tag: field 100, length-delimited. */
const HEADER_TAG = (100 << 3) | WIRE_BYTES;

/**
 * InternalRaftRequest { header (field 100) = RequestHeader { ID (field 1) = id, username (2),
 * auth_revision (3) }, <op field> = raw }, written straight into one buffer. `auth` only when the caller
 * gave a token or a certificate.
 */
export function encodeRaftRequest(id: bigint, op: Op, raw: Uint8Array, auth?: RequestAuth): Buffer {
  let headerLen = 1 + sizeU64(id);
  let user: Buffer | undefined;
  if (auth) {
    if (auth.username !== '') {
      user = Buffer.from(auth.username, 'utf8');
      headerLen += 1 + sizeBytes(user.length);
    }
    if (auth.revision !== 0) headerLen += 1 + sizeUint(auth.revision);
  }
  const opTag = (op << 3) | WIRE_BYTES;
  const size = sizeUint(HEADER_TAG) + sizeBytes(headerLen) + sizeUint(opTag) + sizeBytes(raw.length);
  const b = Buffer.allocUnsafe(size);
  const w = new Writer(b, 0);
  w.uint(HEADER_TAG);
  w.uint(headerLen);
  w.u64Field(1, id);
  if (user) w.bytesField(2, user);
  if (auth && auth.revision !== 0) w.uintField(3, auth.revision);
  w.uint(opTag);
  w.bytes(raw);
  return b;
}

export interface DecodedRaftRequest {
  id: bigint;
  op: Op;
  req: unknown;
}

interface InternalMsg {
  header?: { ID: Int64 } | null;
  put?: PutRequest | null;
  deleteRange?: DeleteRangeRequest | null;
  txn?: TxnRequest | null;
  compaction?: CompactionRequest | null;
  leaseGrant?: unknown;
  leaseRevoke?: unknown;
  leaseCheckpoint?: unknown;
  alarm?: unknown;
}

export interface RaftRequestHead {
  id: bigint;
  op: number;
  /** Where the request's bytes are in the entry: [bodyStart, bodyEnd). */
  bodyStart: number;
  bodyEnd: number;
  /** The caller's user and auth revision, when the header carries them. */
  auth: RequestAuth | undefined;
}

/**
 * The wait id and request kind of an entry without decoding the request: the kind is the field after
 * the header (encodeRaftRequest writes them in that order). Undefined when the entry does not start
 * with a header. Ops outside etcdserverpb.InternalRaftRequest (Attributes) are read only here.
 */
export function peekRaftRequest(data: Uint8Array): RaftRequestHead | undefined {
  const r = new Reader(data);
  if (r.key() !== HEADER_TAG) return undefined;
  const headerEnd = r.delimitedEnd();
  let id = 0n;
  if (data[r.pos] === 0x08) {
    r.pos++;
    id = r.u64();
  }
  let auth: RequestAuth | undefined;
  if (r.pos < headerEnd) auth = readHeaderAuth(r, headerEnd);
  r.pos = headerEnd;
  const op = r.key() >>> 3;
  const bodyEnd = r.delimitedEnd();
  return { id, op, bodyStart: r.pos, bodyEnd, auth };
}

/** The username and auth_revision fields of a RequestHeader (the rest of it, after the ID). */
function readHeaderAuth(r: Reader, end: number): RequestAuth {
  const a: RequestAuth = { username: '', revision: 0 };
  while (r.pos < end) {
    const key = r.key();
    if (key === 0x12) a.username = Buffer.from(r.bytes()).toString('utf8');
    else if (key === 0x18) a.revision = r.uint53('auth_revision');
    else if (key === 0x08) r.u64();
    else r.skip(key & 7);
  }
  return a;
}

/** Decodes an entry; `peek` is its head when the caller has read it already. */
export function decodeRaftRequest(
  data: Uint8Array,
  peek: RaftRequestHead | undefined = peekRaftRequest(data),
): DecodedRaftRequest {
  if (peek?.op === Op.Attributes) {
    return { id: peek.id, op: Op.Attributes, req: data.subarray(peek.bodyStart, peek.bodyEnd) };
  }
  if (peek && peek.op >= AUTH_OP_MIN && peek.op <= AUTH_OP_MAX) {
    const type = AUTH_TYPES.get(peek.op);
    if (type)
      return {
        id: peek.id,
        op: peek.op as Op,
        req: type.decode(data.subarray(peek.bodyStart, peek.bodyEnd)),
      };
  }
  const m = InternalRaftRequest.decode(data) as unknown as InternalMsg;
  const id = toBigInt(m.header?.ID, true);
  if (m.put) return { id, op: Op.Put, req: m.put };
  if (m.deleteRange) return { id, op: Op.DeleteRange, req: m.deleteRange };
  if (m.txn) return { id, op: Op.Txn, req: m.txn };
  if (m.compaction) return { id, op: Op.Compaction, req: m.compaction };
  if (m.leaseGrant) return { id, op: Op.LeaseGrant, req: m.leaseGrant };
  if (m.leaseRevoke) return { id, op: Op.LeaseRevoke, req: m.leaseRevoke };
  if (m.leaseCheckpoint) return { id, op: Op.LeaseCheckpoint, req: m.leaseCheckpoint };
  if (m.alarm) return { id, op: Op.Alarm, req: m.alarm };
  throw new Error('raft request carries no known operation');
}
