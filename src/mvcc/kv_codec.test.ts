import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBigInt, messageType } from '../proto/index.ts';
import {
  decodeKeyValue,
  encodeKeyValue,
  encodeTombstone,
  leaseOf,
  readIndexFields,
  type KeyValue,
} from './kv_codec.ts';
import { bytesToRev, revToBytes } from './revision.ts';

const KV = messageType('mvccpb.KeyValue');

/** What protobufjs writes for `kv` (the encoding the key bucket held before the hand-written one). */
function reference(kv: KeyValue): Buffer {
  const m: Record<string, unknown> = {
    key: kv.key,
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
  };
  if (kv.value.length) m['value'] = kv.value;
  if (kv.lease !== 0n) m['lease'] = fromBigInt(kv.lease);
  return Buffer.from(KV.encode(m).finish());
}

test('a key-value encodes byte for byte as protobufjs encodes it, and decodes back', () => {
  const kvs: KeyValue[] = [
    {
      key: Buffer.from('k'),
      createRevision: 2,
      modRevision: 5,
      version: 3,
      value: Buffer.from('v'),
      lease: 0n,
    },
    {
      key: Buffer.from('tomb'),
      createRevision: 0,
      modRevision: 9,
      version: 0,
      value: Buffer.alloc(0),
      lease: 0n,
    },
    {
      key: Buffer.alloc(200, 0xff),
      createRevision: 2 ** 40,
      modRevision: Number.MAX_SAFE_INTEGER,
      version: 128,
      value: Buffer.alloc(70_000, 1),
      lease: 0x7fff_ffff_ffff_ffffn,
    },
    {
      key: Buffer.alloc(0),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      value: Buffer.from('x'),
      lease: 127n,
    },
    {
      key: Buffer.from('neg'),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      value: Buffer.from('x'),
      lease: -5n,
    },
  ];
  for (const kv of kvs) {
    const mine = encodeKeyValue(kv);
    assert.deepEqual(mine, reference(kv));
    assert.deepEqual(decodeKeyValue(mine), kv);
  }
});

test('a revision key is 8 big-endian bytes of main, "_", 8 of sub, and a trailing "t" on a tombstone', () => {
  const r = { main: 2 ** 40 + 3, sub: 258 };
  const b = revToBytes(r);
  assert.equal(b.toString('hex'), '0000010000000003' + '5f' + '0000000000000102');
  assert.deepEqual(bytesToRev(b), r);
  assert.equal(revToBytes(r, true).toString('hex'), b.toString('hex') + '74');
  assert.equal(
    revToBytes({ main: Number.MAX_SAFE_INTEGER, sub: 0 }).toString('hex').slice(0, 16),
    '001fffffffffffff',
  );
});

test('readIndexFields reads key, create revision and version as the full decoder does', () => {
  const f = { keyStart: 0, keyEnd: 0, createRevision: 0, version: 0, leaseAt: -1 };
  const cases: KeyValue[] = [
    {
      key: Buffer.from('k'),
      createRevision: 5,
      modRevision: 9,
      version: 3,
      value: Buffer.from('v'),
      lease: 7n,
    },
    {
      key: Buffer.alloc(300, 1),
      createRevision: 2 ** 40,
      modRevision: 2 ** 40 + 1,
      version: 200,
      value: Buffer.alloc(0),
      lease: 0n,
    },
    {
      key: Buffer.from('\u00ff\u0000x', 'latin1'),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      value: Buffer.alloc(70_000),
      lease: -1n,
    },
  ];
  for (const kv of cases) {
    const b = encodeKeyValue(kv);
    readIndexFields(b, f);
    assert.deepEqual(b.subarray(f.keyStart, f.keyEnd), kv.key);
    assert.equal(f.createRevision, kv.createRevision);
    assert.equal(f.version, kv.version);
    assert.equal(
      f.leaseAt < 0 ? 0n : leaseOf(b, f.leaseAt),
      kv.lease,
      'the lease as decodeKeyValue gives it',
    );
    assert.equal(decodeKeyValue(b).lease, kv.lease);
  }
  // A tombstone as etcd stores it: the key only.
  readIndexFields(encodeTombstone(Buffer.from('gone')), f);
  assert.equal(f.createRevision, 0);
  assert.equal(f.version, 0);
});
