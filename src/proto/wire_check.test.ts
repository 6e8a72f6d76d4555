import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { messageType, root } from './index.ts';
import {
  checkHealthCheckRequest,
  ERR_INT_OVERFLOW,
  ERR_INVALID_LENGTH,
  ERR_UNEXPECTED_EOF,
  framingStatus,
  goCamelCase,
  gogoWireChecker,
  streamDecodeStatus,
  unaryDecodeStatus,
  wireCheck,
} from './wire_check.ts';

const check = (type: string, bytes: number[] | Uint8Array) =>
  wireCheck(messageType(type), bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
const ff = (n: number) => new Array<number>(n).fill(0xff);
const R = 'etcdserverpb.RangeRequest';
const TXN = 'etcdserverpb.TxnRequest';
const WCR = 'etcdserverpb.WatchCreateRequest';

/** A varint of any size (bigint), as a wire writer would put it. */
function varint(v: bigint): number[] {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

// Every expectation below that etcd can be asked for is what etcd 3.4.23 answered to the same bytes
// (test/diff_malformed.test.ts asks it again on every run).
test('tags etcd refuses: field 0, end group, wire types 6 and 7', () => {
  assert.equal(check(R, []), undefined);
  assert.equal(check(R, [0x00]), 'proto: RangeRequest: illegal tag 0 (wire type 0)');
  assert.equal(check(R, [0x02, 0x00]), 'proto: RangeRequest: illegal tag 0 (wire type 2)');
  assert.equal(check(R, [0x03]), 'proto: RangeRequest: illegal tag 0 (wire type 3)');
  assert.equal(check(R, [0x04]), 'proto: RangeRequest: wiretype end group for non-group');
  assert.equal(check(R, [0x7c]), 'proto: RangeRequest: wiretype end group for non-group');
  assert.equal(check(R, [0x0c]), 'proto: RangeRequest: wiretype end group for non-group');
  assert.equal(check(R, [0x7e]), 'proto: illegal wireType 6');
  assert.equal(check(R, [0x7f]), 'proto: illegal wireType 7');
  assert.equal(check(R, [0x78, 0x01, 0x00]), 'proto: RangeRequest: illegal tag 0 (wire type 0)');
});

test('the illegal-tag error prints int32(tag >> 3) and the whole tag', () => {
  assert.equal(
    check(R, [0x80, 0x80, 0x80, 0x80, 0x40]),
    'proto: RangeRequest: illegal tag -2147483648 (wire type 17179869184)',
  );
  // a field number that wraps to 1 in int32 is field 1 (key)
  assert.equal(check(R, varint(((1n << 32n) + 1n) << 3n)), 'proto: wrong wireType = 0 for field Key');
});

test('truncation, overflow and negative lengths', () => {
  assert.equal(check(R, [0x80]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x78, 0x80]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x7a, 0x05, 0x61]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x79, 0x01, 0x02]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x7d, 0x01, 0x02, 0x03]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0xde, 0xad, 0xbe, 0xef]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x0a, 0x09, 0x61]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x18, 0xff]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x7a, ...ff(9), 0x01]), ERR_INVALID_LENGTH);
  assert.equal(check(R, [0x0a, ...ff(9), 0x01]), ERR_INVALID_LENGTH);
  assert.equal(check(R, [0x78, ...ff(10), 0x01]), ERR_INT_OVERFLOW);
  assert.equal(check(R, [...ff(10), 0x01]), ERR_INT_OVERFLOW);
  // the overflow check comes before the end check: ten continuation bytes at the end overflow
  assert.equal(check(R, [0x18, ...ff(10)]), ERR_INT_OVERFLOW);
  assert.equal(check(R, [0x18, ...ff(9)]), ERR_UNEXPECTED_EOF);
});

test('a bytes field whose end overflows int64 is refused (etcd 3.4 panics there)', () => {
  // length 2^63-1 after a 10-byte prefix: Go's postIndex wraps negative and the slice panics
  assert.equal(check(R, [0x0a, ...ff(8), 0x7f]), ERR_INVALID_LENGTH);
  assert.equal(check(TXN, [0x0a, ...ff(8), 0x7f]), ERR_INVALID_LENGTH);
  // skipped unknown field, and inside a skipped group
  assert.equal(check(R, [0x7a, ...ff(8), 0x7f]), ERR_INVALID_LENGTH);
  assert.equal(check(R, [0x7b, 0x7a, ...ff(8), 0x7f, 0x7c]), ERR_INVALID_LENGTH);
  // large but not wrapping: past the end
  assert.equal(check(R, [0x0a, ...ff(7), 0x7f]), ERR_UNEXPECTED_EOF);
});

test('a known field with another wire type names the Go field', () => {
  assert.equal(check(R, [0x08, 0x01]), 'proto: wrong wireType = 0 for field Key');
  assert.equal(check(R, [0x0e]), 'proto: wrong wireType = 6 for field Key');
  assert.equal(check(R, [0x1a, 0x00]), 'proto: wrong wireType = 2 for field Limit');
  assert.equal(check(R, Buffer.from('garbage')), 'proto: wrong wireType = 7 for field MinCreateRevision');
  assert.equal(
    check('etcdserverpb.LeaseGrantRequest', [0x0a, 0x00]),
    'proto: wrong wireType = 2 for field TTL',
  );
  assert.equal(
    check('etcdserverpb.LeaseRevokeRequest', [0x0a, 0x00]),
    'proto: wrong wireType = 2 for field ID',
  );
  assert.equal(
    check('etcdserverpb.MemberAddRequest', [0x08, 0x01]),
    'proto: wrong wireType = 0 for field PeerURLs',
  );
  assert.equal(
    check('etcdserverpb.MoveLeaderRequest', [0x0a, 0x00]),
    'proto: wrong wireType = 2 for field TargetID',
  );
  assert.equal(
    check('etcdserverpb.AlarmRequest', [0x12, 0x00]),
    'proto: wrong wireType = 2 for field MemberID',
  );
  assert.equal(
    check('etcdserverpb.LeaseTimeToLiveRequest', [0x12, 0x00]),
    'proto: wrong wireType = 2 for field Keys',
  );
  assert.equal(check(TXN, [0x08, 0x01]), 'proto: wrong wireType = 0 for field Compare');
  // oneof members are named by their own field
  assert.equal(
    check('etcdserverpb.WatchRequest', [0x08, 0x01]),
    'proto: wrong wireType = 0 for field CreateRequest',
  );
  assert.equal(
    check('etcdserverpb.Compare', [0x20, 0x01, 0x3a, 0x00, 0x38, 0x01]),
    'proto: wrong wireType = 0 for field Value',
  );
});

test('nested messages are checked with their own name', () => {
  assert.equal(check(TXN, [0x0a, 0x01, 0x00]), 'proto: Compare: illegal tag 0 (wire type 0)');
  assert.equal(
    check(TXN, [0x12, 0x03, 0x0a, 0x01, 0x00]),
    'proto: RangeRequest: illegal tag 0 (wire type 0)',
  );
  assert.equal(check(TXN, [0x0a, 0x03, 0x0a, 0x05]), ERR_UNEXPECTED_EOF);
  // Compare{key: 5 bytes} in 2 bytes: bounded by the inner end though the outer has bytes to spare
  assert.equal(check(TXN, [0x0a, 0x02, 0x1a, 0x05, 0, 0, 0, 0, 0]), ERR_UNEXPECTED_EOF);
  assert.equal(check('etcdserverpb.WatchRequest', [0x0a, 0x03, 0x2a, 0x05, 0x00]), ERR_UNEXPECTED_EOF);
  assert.equal(
    check('v3electionpb.ProclaimRequest', [0x0a, 0x01, 0x00]),
    'proto: LeaderKey: illegal tag 0 (wire type 0)',
  );
  assert.equal(
    check('etcdserverpb.AuthRoleGrantPermissionRequest', [0x12, 0x01, 0x0e]),
    'proto: wrong wireType = 6 for field PermType',
  );
  assert.equal(
    check('etcdserverpb.AuthUserAddRequest', [0x1a, 0x02, 0x0a, 0x00]),
    'proto: wrong wireType = 2 for field NoPassword',
  );
  // after a good nested message the outer one goes on
  assert.equal(check(TXN, [0x0a, 0x02, 0x10, 0x01, 0x00]), 'proto: TxnRequest: illegal tag 0 (wire type 0)');
});

test('a deep nesting of transactions is checked without running out of stack', () => {
  // Txn{success: [RequestOp{request_txn: Txn{...}}]} 50,000 levels down, field 0 at the bottom
  const prefixes: number[][] = [];
  let len = 1;
  for (let d = 0; d < 50_000; d++) {
    const opLen = 1 + varint(BigInt(len)).length + len;
    prefixes.push([0x12, ...varint(BigInt(opLen)), 0x22, ...varint(BigInt(len))]);
    len = 1 + varint(BigInt(opLen)).length + opLen;
  }
  const bytes = Buffer.from([...prefixes.reverse().flat(), 0x00]);
  assert.equal(bytes.length, len);
  assert.equal(check(TXN, bytes), 'proto: TxnRequest: illegal tag 0 (wire type 0)');
});

test('unknown fields are skipped like the generated skip function', () => {
  assert.equal(check(R, [0x78, 0x01, 0x79, ...ff(8), 0x7a, 0x01, 0x00, 0x7d, 1, 2, 3, 4]), undefined);
  assert.equal(check(R, [0x7b, 0x78, 0x01, 0x7c]), undefined);
  assert.equal(check(R, [0x7b, 0x7b, 0x7c, 0x7c, 0x0a, 0x01, 0x61]), undefined);
  assert.equal(check(R, [0x7b, 0x0c]), undefined); // any end tag closes the group
  assert.equal(check(R, [0x7b, 0x00, 0x01, 0x7c]), undefined); // field 0 inside a skipped group is fine
  assert.equal(check(R, [0x7b]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x7b, 0x7b, 0x7c]), ERR_UNEXPECTED_EOF);
  assert.equal(check(R, [0x7b, 0x0e, 0x7c]), 'proto: illegal wireType 6');
  assert.equal(check(R, [0x7b, 0x79, 0x01, 0x7c]), ERR_UNEXPECTED_EOF); // fixed64 eats the end tag
  assert.equal(check(R, [0x7b, 0x78, ...ff(10), 0x7c]), ERR_INT_OVERFLOW);
  assert.equal(check(R, [0x03, 0x04]), 'proto: RangeRequest: illegal tag 0 (wire type 3)');
  // a field number past the dense table
  assert.equal(check(R, [...varint((536870911n << 3n) | 0n), 0x05]), undefined);
});

test('packed and unpacked repeated scalars, with gogo 3.4-era quirks', () => {
  assert.equal(check(WCR, [0x28, 0x01, 0x28, 0x00]), undefined);
  assert.equal(check(WCR, [0x2a, 0x02, 0x00, 0x01]), undefined);
  assert.equal(check(WCR, [0x2d]), 'proto: wrong wireType = 5 for field Filters');
  assert.equal(check(WCR, [0x2a, 0x02, 0x00]), ERR_UNEXPECTED_EOF);
  // the last element of a run may end past the run (the generated loop bounds it by the message)
  assert.equal(check(WCR, [0x2a, 0x01, 0x80, 0x01]), undefined);
  assert.equal(check(WCR, [0x2a, 0x01, 0x80]), ERR_UNEXPECTED_EOF);
  // a run length whose end overflows int64 reads as an empty run; parsing goes on after the length
  assert.equal(check(WCR, [0x2a, ...ff(8), 0x7f]), undefined);
  assert.equal(
    check(WCR, [0x2a, ...ff(8), 0x7f, 0x00]),
    'proto: WatchCreateRequest: illegal tag 0 (wire type 0)',
  );
});

test('fixed-size fields (etcd requests have none) take their own wire type and size', () => {
  const T = new protobuf.Type('Fixed')
    .add(new protobuf.Field('big_one', 1, 'fixed64'))
    .add(new protobuf.Field('small', 2, 'float', 'repeated'));
  new protobuf.Root().add(T).resolveAll();
  const c = gogoWireChecker(T);
  const b = (...x: number[]) => c(Uint8Array.from(x));
  assert.equal(b(0x09, 1, 2, 3, 4, 5, 6, 7, 8), undefined);
  assert.equal(b(0x09, 1, 2), ERR_UNEXPECTED_EOF);
  assert.equal(b(0x08, 0x00), 'proto: wrong wireType = 0 for field BigOne');
  assert.equal(b(0x15, 1, 2, 3, 4, 0x12, 0x04, 1, 2, 3, 4), undefined);
  assert.equal(b(0x12, 0x03, 1, 2, 3), ERR_UNEXPECTED_EOF);
  assert.equal(b(0x12, 0x02, 1, 2, 3, 4), undefined); // the element may end past the run
  assert.equal(b(0x11), 'proto: wrong wireType = 1 for field Small');
});

test('varints of up to 10 bytes are taken whatever their top bits, and overlong tags too', () => {
  assert.equal(check(R, [0x18, ...ff(9), 0x7f]), undefined);
  assert.equal(check(R, [0x18, 0x80, 0x80, 0x00]), undefined);
  assert.equal(check(R, [0x8a, 0x80, 0x00, 0x01, 0x61]), undefined);
  assert.equal(
    check(R, [0x88, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01]),
    'proto: wrong wireType = 0 for field Key',
  );
});

test('valid encodings of the request messages pass', () => {
  const cases: [string, object][] = [
    [
      R,
      {
        key: Buffer.from('a'),
        rangeEnd: Buffer.from('z'),
        limit: 10,
        revision: 5,
        sortOrder: 2,
        sortTarget: 4,
        serializable: true,
        keysOnly: true,
        countOnly: true,
        minModRevision: 1,
        maxModRevision: 2,
        minCreateRevision: 3,
        maxCreateRevision: 4,
      },
    ],
    [
      'etcdserverpb.PutRequest',
      { key: Buffer.from('k'), value: Buffer.alloc(300, 7), lease: '7587862202548462467', prevKv: true },
    ],
    [
      TXN,
      {
        compare: [
          {
            result: 1,
            target: 3,
            key: Buffer.from('k'),
            value: Buffer.from('v'),
            rangeEnd: Buffer.from('l'),
          },
        ],
        success: [
          { requestPut: { key: Buffer.from('k') } },
          { requestTxn: { success: [{ requestRange: { key: Buffer.from('x') } }] } },
        ],
        failure: [{ requestDeleteRange: { key: Buffer.from('k'), prevKv: true } }],
      },
    ],
    [
      'etcdserverpb.WatchRequest',
      { createRequest: { key: Buffer.from('k'), filters: [0, 1], prevKv: true, watchId: 3 } },
    ],
    ['etcdserverpb.WatchRequest', { cancelRequest: { watchId: 3 } }],
    ['etcdserverpb.LeaseGrantRequest', { TTL: 5, ID: '-1' }],
    [
      'etcdserverpb.AuthRoleGrantPermissionRequest',
      { name: 'r', perm: { permType: 2, key: Buffer.from('a') } },
    ],
    [
      'v3electionpb.ProclaimRequest',
      {
        leader: { name: Buffer.from('e'), key: Buffer.from('e/1'), rev: 3, lease: 4 },
        value: Buffer.from('v'),
      },
    ],
  ];
  for (const [name, obj] of cases) {
    const T = messageType(name);
    assert.equal(wireCheck(T, T.encode(T.fromObject(obj)).finish()), undefined, name);
  }
});

test('every message type of the client API gets a table', () => {
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Type && !o.fullName.startsWith('.raftpb')) gogoWireChecker(o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
});

test('random bytes: never throws, and what it accepts protobufjs decodes', () => {
  const types = [
    R,
    TXN,
    'etcdserverpb.WatchRequest',
    'etcdserverpb.PutRequest',
    'v3electionpb.ProclaimRequest',
  ].map(messageType);
  const byte = fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x00, 0x01, 0x05, 0x08, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x2a, 0x7b, 0x7c, 0x80, 0xff),
  );
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.array(byte, { maxLength: 24 }), (T, arr) => {
      const b = Uint8Array.from(arr);
      if (wireCheck(T, b) !== undefined) return;
      // protobufjs reads a tag or length of more than 5 bytes as exactly 10 (its uint32 reader):
      // such input (etcd takes it) is left out here.
      let run = 0;
      for (const x of arr) if ((run = x >= 0x80 ? run + 1 : 0) >= 5) return;
      T.decode(b);
    }),
    { numRuns: 20_000, seed: 20240917 },
  );
});

test('HealthCheckRequest follows golang/protobuf 1.3, not gogo', () => {
  const h = (bytes: number[]) => checkHealthCheckRequest(Uint8Array.from(bytes));
  assert.equal(h([]), undefined);
  assert.equal(h([0x0a, 0x01, 0x61]), undefined);
  assert.equal(h([0x00]), 'proto: grpc_health_v1.HealthCheckRequest: illegal tag 0 (wire type 0)');
  assert.equal(h([0x04]), 'proto: grpc_health_v1.HealthCheckRequest: illegal tag 0 (wire type 4)');
  assert.equal(h([0x7c]), "proto: can't skip unknown wire type 4");
  assert.equal(h([0x0c]), "proto: can't skip unknown wire type 4");
  assert.equal(h([0x7e]), "proto: can't skip unknown wire type 6");
  assert.equal(h([0x7f]), "proto: can't skip unknown wire type 7");
  assert.equal(h([0x08, 0x01]), undefined); // a known field with another wire type is skipped
  assert.equal(h([0x7b, 0x0e, 0x7c]), ERR_UNEXPECTED_EOF);
  assert.equal(h([0x7b, 0x78, 0x01, 0x7c]), undefined);
  assert.equal(h([0x78, ...ff(10), 0x01]), ERR_UNEXPECTED_EOF);
  assert.equal(h([0x78, ...ff(9), 0x02]), ERR_UNEXPECTED_EOF); // a 10th byte above 1
  assert.equal(h([0x78, ...ff(9), 0x01]), undefined);
  assert.equal(h([0x7a, ...ff(9), 0x01]), ERR_UNEXPECTED_EOF);
  assert.equal(h([0x80, 0x80, 0x80, 0x80, 0x40]), ERR_UNEXPECTED_EOF);
  assert.equal(
    h([0x0a, 0x02, 0xc3, 0x28]),
    'proto: field "grpc.health.v1.HealthCheckRequest.service" contains invalid UTF-8',
  );
  // a later hard error wins over invalid UTF-8
  assert.equal(
    h([0x0a, 0x01, 0xff, 0x00]),
    'proto: grpc_health_v1.HealthCheckRequest: illegal tag 0 (wire type 0)',
  );
});

test('grpc-go wraps the error differently for unary calls and for streams', () => {
  assert.deepEqual(unaryDecodeStatus('unexpected EOF'), {
    code: 13,
    message: 'grpc: error unmarshalling request: unexpected EOF',
  });
  assert.deepEqual(streamDecodeStatus('unexpected EOF'), {
    code: 13,
    message: 'grpc: failed to unmarshal the received message unexpected EOF',
  });
  assert.deepEqual(framingStatus.truncated(false), { code: 2, message: 'unexpected EOF' });
  assert.deepEqual(framingStatus.truncated(true), { code: 13, message: 'unexpected EOF' });
  assert.deepEqual(framingStatus.unsupportedEncoding('gzip'), {
    code: 12,
    message: 'grpc: Decompressor is not installed for grpc-encoding "gzip"',
  });
  assert.deepEqual(framingStatus.malformedMethod('/etcdserverpb.KV'), {
    code: 8,
    message: 'malformed method name: "/etcdserverpb.KV"',
  });
});

test("Go field names follow protoc-gen-gogo's CamelCase", () => {
  assert.equal(goCamelCase('range_end'), 'RangeEnd');
  assert.equal(goCamelCase('rangeEnd'), 'RangeEnd');
  assert.equal(goCamelCase('TTL'), 'TTL');
  assert.equal(goCamelCase('peerURLs'), 'PeerURLs');
  assert.equal(goCamelCase('v3lock'), 'V3Lock');
  assert.equal(goCamelCase('_x'), 'XX');
  assert.equal(goCamelCase('a__b'), 'A_B');
});
