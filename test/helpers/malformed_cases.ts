// Every method etcd 3.4 serves on its client port, with what a malformed-request test needs to know
// about it, and the raw request bodies sent to it. The field facts (numbers, wire types, which fields
// hold messages) are etcd 3.4.23's request messages; tetcd's proto/ may know more fields (3.5 ones),
// which is why they are written here rather than read from tetcd's own types.
import { grpcFrame } from './grpc_raw.ts';

export type Kind = 'unary' | 'server' | 'bidi';

export interface MethodSpec {
  /** "/service/Method" */
  path: string;
  kind: Kind;
  /** Full name of the request message ("etcdserverpb.RangeRequest"). */
  request: string;
  /** A field etcd 3.4's request message has, with the wire type it expects. */
  known?: { id: number; wt: 0 | 2 };
  /** A field holding a message; `deep` is a whole request whose error is two messages down. */
  nested?: { id: number; deep?: Buffer };
  /**
   * An empty (or skipped-to-empty) request does nothing lasting: it fails validation, reads, or is a
   * no-op. Only such methods get payloads that decode successfully.
   */
  emptyHarmless: boolean;
  /** Field 1 is a proto3 string whose decoder checks UTF-8 (only golang/protobuf's, not gogo's). */
  utf8Checked?: true;
}

const m = (
  path: string,
  kind: Kind,
  request: string,
  emptyHarmless: boolean,
  known?: MethodSpec['known'],
  nested?: MethodSpec['nested'],
): MethodSpec => ({
  path,
  kind,
  request,
  emptyHarmless,
  ...(known ? { known } : {}),
  ...(nested ? { nested } : {}),
});

const E = 'etcdserverpb.';
const HEALTH = 'grpc.health.v1.HealthCheckRequest';
const BYTES = { id: 1, wt: 2 } as const;
const VARINT = { id: 1, wt: 0 } as const;

export const METHODS: MethodSpec[] = [
  m('/etcdserverpb.KV/Range', 'unary', E + 'RangeRequest', true, BYTES),
  m('/etcdserverpb.KV/Put', 'unary', E + 'PutRequest', true, BYTES),
  m('/etcdserverpb.KV/DeleteRange', 'unary', E + 'DeleteRangeRequest', true, BYTES),
  // success[0] = RequestOp{request_range = RangeRequest{field 0}}
  m('/etcdserverpb.KV/Txn', 'unary', E + 'TxnRequest', true, BYTES, {
    id: 1,
    deep: Buffer.from([0x12, 0x03, 0x0a, 0x01, 0x00]),
  }),
  // Compact(0) succeeds once, then answers compacted: order-dependent, so never sent decodable.
  m('/etcdserverpb.KV/Compact', 'unary', E + 'CompactionRequest', false, VARINT),
  // create_request = WatchCreateRequest{filters packed, length past the end}
  m('/etcdserverpb.Watch/Watch', 'bidi', E + 'WatchRequest', false, BYTES, {
    id: 1,
    deep: Buffer.from([0x0a, 0x03, 0x2a, 0x05, 0x00]),
  }),
  m('/etcdserverpb.Lease/LeaseGrant', 'unary', E + 'LeaseGrantRequest', false, VARINT),
  m('/etcdserverpb.Lease/LeaseRevoke', 'unary', E + 'LeaseRevokeRequest', true, VARINT),
  m('/etcdserverpb.Lease/LeaseKeepAlive', 'bidi', E + 'LeaseKeepAliveRequest', false, VARINT),
  m('/etcdserverpb.Lease/LeaseTimeToLive', 'unary', E + 'LeaseTimeToLiveRequest', true, VARINT),
  m('/etcdserverpb.Lease/LeaseLeases', 'unary', E + 'LeaseLeasesRequest', true),
  m('/etcdserverpb.Cluster/MemberAdd', 'unary', E + 'MemberAddRequest', true, BYTES),
  // Membership changes go through raft as conf changes; concurrent ones wait on each other in etcd.
  m('/etcdserverpb.Cluster/MemberRemove', 'unary', E + 'MemberRemoveRequest', false, VARINT),
  m('/etcdserverpb.Cluster/MemberUpdate', 'unary', E + 'MemberUpdateRequest', false, VARINT),
  m('/etcdserverpb.Cluster/MemberList', 'unary', E + 'MemberListRequest', true),
  m('/etcdserverpb.Cluster/MemberPromote', 'unary', E + 'MemberPromoteRequest', false, VARINT),
  m('/etcdserverpb.Maintenance/Alarm', 'unary', E + 'AlarmRequest', true, VARINT),
  m('/etcdserverpb.Maintenance/Status', 'unary', E + 'StatusRequest', true),
  m('/etcdserverpb.Maintenance/Defragment', 'unary', E + 'DefragmentRequest', false),
  m('/etcdserverpb.Maintenance/Hash', 'unary', E + 'HashRequest', true),
  m('/etcdserverpb.Maintenance/HashKV', 'unary', E + 'HashKVRequest', true, VARINT),
  m('/etcdserverpb.Maintenance/Snapshot', 'server', E + 'SnapshotRequest', false),
  m('/etcdserverpb.Maintenance/MoveLeader', 'unary', E + 'MoveLeaderRequest', false, VARINT),
  m('/etcdserverpb.Auth/AuthEnable', 'unary', E + 'AuthEnableRequest', false),
  m('/etcdserverpb.Auth/AuthDisable', 'unary', E + 'AuthDisableRequest', true),
  m('/etcdserverpb.Auth/Authenticate', 'unary', E + 'AuthenticateRequest', true, BYTES),
  m('/etcdserverpb.Auth/UserAdd', 'unary', E + 'AuthUserAddRequest', true, BYTES, { id: 3 }),
  m('/etcdserverpb.Auth/UserGet', 'unary', E + 'AuthUserGetRequest', true, BYTES),
  m('/etcdserverpb.Auth/UserList', 'unary', E + 'AuthUserListRequest', true),
  m('/etcdserverpb.Auth/UserDelete', 'unary', E + 'AuthUserDeleteRequest', true, BYTES),
  m('/etcdserverpb.Auth/UserChangePassword', 'unary', E + 'AuthUserChangePasswordRequest', true, BYTES),
  m('/etcdserverpb.Auth/UserGrantRole', 'unary', E + 'AuthUserGrantRoleRequest', true, BYTES),
  m('/etcdserverpb.Auth/UserRevokeRole', 'unary', E + 'AuthUserRevokeRoleRequest', true, BYTES),
  m('/etcdserverpb.Auth/RoleAdd', 'unary', E + 'AuthRoleAddRequest', true, BYTES),
  m('/etcdserverpb.Auth/RoleGet', 'unary', E + 'AuthRoleGetRequest', true, BYTES),
  m('/etcdserverpb.Auth/RoleList', 'unary', E + 'AuthRoleListRequest', true),
  m('/etcdserverpb.Auth/RoleDelete', 'unary', E + 'AuthRoleDeleteRequest', true, BYTES),
  m('/etcdserverpb.Auth/RoleGrantPermission', 'unary', E + 'AuthRoleGrantPermissionRequest', true, BYTES, {
    id: 2,
  }),
  m('/etcdserverpb.Auth/RoleRevokePermission', 'unary', E + 'AuthRoleRevokePermissionRequest', true, BYTES),
  m('/v3lockpb.Lock/Lock', 'unary', 'v3lockpb.LockRequest', false, BYTES),
  m('/v3lockpb.Lock/Unlock', 'unary', 'v3lockpb.UnlockRequest', true, BYTES),
  m('/v3electionpb.Election/Campaign', 'unary', 'v3electionpb.CampaignRequest', false, BYTES),
  m('/v3electionpb.Election/Proclaim', 'unary', 'v3electionpb.ProclaimRequest', true, BYTES, { id: 1 }),
  m('/v3electionpb.Election/Leader', 'unary', 'v3electionpb.LeaderRequest', true, BYTES),
  m('/v3electionpb.Election/Observe', 'server', 'v3electionpb.LeaderRequest', false, BYTES),
  m('/v3electionpb.Election/Resign', 'unary', 'v3electionpb.ResignRequest', true, BYTES, { id: 1 }),
  { ...m('/grpc.health.v1.Health/Check', 'unary', HEALTH, true, BYTES), utf8Checked: true },
  { ...m('/grpc.health.v1.Health/Watch', 'server', HEALTH, false, BYTES), utf8Checked: true },
];

/** A field number no request message of etcd 3.4 (or tetcd) uses: unknown fields are sent on it. */
export const UNKNOWN_FIELD = 15;
const tag = (id: number, wt: number) => {
  const out: number[] = [];
  let v = id * 8 + wt;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};
const U = (wt: number) => tag(UNKNOWN_FIELD, wt);
const ff = (n: number) => new Array<number>(n).fill(0xff);

export interface PayloadCase {
  name: string;
  /** The request message (unframed). */
  message: Buffer;
  /** The message decodes (etcd 3.4 runs the method): only sent to methods whose empty request is harmless. */
  decodes?: true;
}

/** The malformed messages sent to `spec`; each goes out as one gRPC message and END_STREAM. */
export function payloadCases(spec: MethodSpec): PayloadCase[] {
  const c = (name: string, bytes: number[] | Buffer, decodes?: true): PayloadCase => ({
    name,
    message: Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes),
    ...(decodes ? { decodes } : {}),
  });
  const cases: PayloadCase[] = [
    c('field 0, varint', [0x00, 0x01]),
    c('field 0, bytes', [0x02, 0x00]),
    c('field 0, group start', [0x03]),
    c('group end tag', U(4)),
    c('group end tag for field 0', [0x04]),
    c('group start, never ended', U(3)),
    c('group start, bad wire type inside', [...U(3), 0x0e, ...U(4)]),
    c('wire type 6', U(6)),
    c('wire type 7', U(7)),
    c('truncated tag varint', [0x80]),
    c('truncated varint value', [...U(0), 0x80]),
    c('length past the end', [...U(2), 0x05, 0x61]),
    c('fixed64 past the end', [...U(1), 0x01, 0x02]),
    c('negative length', [...U(2), ...ff(9), 0x01]),
    c('varint of 11 bytes', [...U(0), ...ff(10), 0x01]),
    c('tag varint of 11 bytes', [...ff(10), 0x01]),
    c('tag whose field number is negative as int32', [0x80, 0x80, 0x80, 0x80, 0x40]),
    c('garbage text', Buffer.from('garbage')),
    c('garbage bytes', [0xde, 0xad, 0xbe, 0xef]),
    c('valid field then field 0', [...U(0), 0x01, 0x00]),
  ];
  if (spec.known) {
    const { id, wt } = spec.known;
    cases.push(
      wt === 2
        ? c('known field, wrong wire type', [...tag(id, 0), 0x01])
        : c('known field, wrong wire type', [...tag(id, 2), 0x00]),
      c('known field, wire type 6', tag(id, 6)),
      c('known field, group end', tag(id, 4)),
      wt === 2
        ? c('known field, length past the end', [...tag(id, 2), 0x09, 0x61])
        : c('known field, truncated varint', [...tag(id, 0), 0xff]),
    );
  }
  if (spec.utf8Checked) {
    cases.push(c('string field, not UTF-8', [0x0a, 0x02, 0xc3, 0x28]));
    cases.push(c('string field, not UTF-8, then field 0', [0x0a, 0x01, 0xff, 0x00]));
  }
  if (spec.nested) {
    cases.push(c('nested message, field 0', [...tag(spec.nested.id, 2), 0x01, 0x00]));
    cases.push(c('nested message, length past its end', [...tag(spec.nested.id, 2), 0x03, 0x0a, 0x05]));
    if (spec.nested.deep) cases.push(c('nested message two levels down', spec.nested.deep));
  }
  if (spec.emptyHarmless) {
    cases.push(c('valid empty message', [], true));
    cases.push(c('unknown group, skipped', [...U(3), ...U(0), 0x01, ...U(4)], true));
    cases.push(c('unknown fields of every wire type, skipped', [...U(0), 0x01, ...U(1), ...ff(8)], true));
  }
  return cases;
}

export interface FramingCase {
  name: string;
  body: Buffer;
  headers?: Record<string, string>;
  /** Path override (unknown method or service). */
  path?: (spec: MethodSpec) => string;
  /** Only for methods whose empty request is harmless (the request decodes). */
  decodes?: true;
}

const EMPTY = Buffer.alloc(0);

export const FRAMING_CASES: FramingCase[] = [
  { name: 'length prefix cut short (3 bytes)', body: Buffer.from([0, 0, 0]) },
  { name: 'prefix of 15 bytes, 3 sent', body: Buffer.from([0, 0, 0, 0, 15, 0x7f, 0x7f, 0x7f]) },
  { name: 'compressed flag without grpc-encoding', body: grpcFrame(EMPTY, true) },
  {
    name: 'compressed flag, grpc-encoding identity',
    body: grpcFrame(EMPTY, true),
    headers: { 'grpc-encoding': 'identity' },
  },
  {
    name: 'grpc-encoding nobody has',
    body: grpcFrame(EMPTY, true),
    headers: { 'grpc-encoding': 'snappy' },
  },
  {
    name: 'gzip flag with bytes that are not gzip',
    body: grpcFrame(Buffer.from('not gzip'), true),
    headers: { 'grpc-encoding': 'gzip' },
  },
  { name: 'payload format 2', body: Buffer.from([2, 0, 0, 0, 0]) },
  { name: 'prefix larger than the receive limit', body: Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]) },
  { name: 'no message at all', body: EMPTY },
  { name: 'two messages', body: Buffer.concat([grpcFrame(EMPTY), grpcFrame(EMPTY)]), decodes: true },
  {
    // A message that does not decode (field 0): tetcd takes gzip (see GZIP_CASES in the test), and
    // a decodable one would run the method there (a Campaign for "" would win).
    name: 'uncompressed message, grpc-encoding gzip',
    body: grpcFrame(Buffer.from([0x00, 0x00])),
    headers: { 'grpc-encoding': 'gzip' },
  },
  {
    name: 'unknown method',
    body: grpcFrame(EMPTY),
    path: (s) => s.path.replace(/\/[^/]+$/, '/NoSuchMethod'),
  },
  {
    name: 'unknown service',
    body: grpcFrame(EMPTY),
    path: (s) => s.path.replace(/^\/[^/]+\//, '/etcdserverpb.NoSuchService/'),
  },
  {
    name: 'path without a method name',
    body: grpcFrame(EMPTY),
    path: (s) => s.path.replace(/\/[^/]+$/, ''),
  },
];
