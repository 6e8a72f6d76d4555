import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeClusterId,
  computeMemberId,
  decodeAttributes,
  decodeMemberContext,
  encodeAttributes,
  encodeMemberContext,
  isValidPeerURL,
  parsePeerURLs,
  type Member,
} from './member.ts';
import { ErrMemberBadURLs } from './errors.ts';

const MAX_U64 = (1n << 64n) - 1n;

describe('member IDs', () => {
  test("etcd's default single member gets etcd's well-known member and cluster IDs", () => {
    const id = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
    assert.equal(id, 0x8e9e05c52164694dn);
    assert.equal(computeClusterId([id]), 0xcdf818194e3a8c32n);
  });

  test('hashes the sorted URLs with the token, and the sorted member IDs (values of the same derivation as etcd)', () => {
    const urls = ['http://127.0.0.1:2382', 'http://127.0.0.1:2381'];
    assert.equal(computeMemberId(urls, 'tok'), 0x667adfc3edba2078n);
    assert.equal(computeClusterId([5n, MAX_U64, 1n]), 0xa9d6d6fac82e5c43n);
  });

  test('does not depend on URL order, but on token and on the time in whole seconds', () => {
    const a = computeMemberId(['http://a:1', 'http://b:2'], 't');
    assert.equal(computeMemberId(['http://b:2', 'http://a:1'], 't'), a);
    assert.notEqual(computeMemberId(['http://a:1', 'http://b:2'], 'u'), a);
    const t1 = computeMemberId(['http://a:1'], '', 1_700_000_000);
    assert.equal(computeMemberId(['http://a:1'], '', 1_700_000_000.9), t1);
    assert.notEqual(computeMemberId(['http://a:1'], '', 1_700_000_001), t1);
    assert.notEqual(computeMemberId(['http://a:1'], ''), t1);
  });
});

describe('peer URL validation', () => {
  test('accepts http(s)://host:port, IPv6 in brackets, trims and sorts', () => {
    assert.deepEqual(parsePeerURLs([' https://b.example:2380', 'http://[::1]:2380', 'http://10.0.0.1:1']), [
      'http://10.0.0.1:1',
      'http://[::1]:2380',
      'https://b.example:2380',
    ]);
  });

  for (const bad of [
    'ftp://a:1',
    'unix://a:1',
    'http://a',
    'http://a:',
    'http://a:1/',
    'http://a:1/path',
    'a:1',
    'http://a:0',
    'http://a:65536',
    'http://user@a:1',
    'http://a:1?x=1',
    'http://:1',
    '',
  ]) {
    test(`rejects ${JSON.stringify(bad)} with "given member URLs are invalid"`, () => {
      assert.equal(isValidPeerURL(bad), false);
      assert.throws(() => parsePeerURLs(['http://ok:1', bad]), ErrMemberBadURLs);
    });
  }

  test('rejects an empty list', () => {
    assert.throws(() => parsePeerURLs([]), { message: 'etcdserver: given member URLs are invalid' });
  });
});

describe('log encodings', () => {
  const m: Member = {
    id: MAX_U64,
    name: 'n1',
    peerURLs: ['http://a:1', 'http://b:2'],
    clientURLs: ['http://a:3'],
    isLearner: true,
  };

  test('member context round-trips a 64-bit ID exactly, with the promote flag', () => {
    assert.deepEqual(decodeMemberContext(encodeMemberContext(m)), { member: m, isPromote: false });
    assert.deepEqual(decodeMemberContext(encodeMemberContext(m, true)), { member: m, isPromote: true });
    assert.match(new TextDecoder().decode(encodeMemberContext(m)), /"id":"18446744073709551615"/);
  });

  test('malformed contexts throw instead of yielding a wrong member', () => {
    const bad = (s: string) => () => decodeMemberContext(new TextEncoder().encode(s));
    assert.throws(bad('not json'), /undecodable/);
    assert.throws(bad('{"id":12}'), /bad member id/);
    assert.throws(bad('{"id":"18446744073709551616"}'), /out of range/);
    assert.throws(bad('{"id":"1","peerURLs":[1]}'), /bad peerURLs/);
    assert.throws(() => decodeMemberContext(new Uint8Array([0xff, 0xfe])), /undecodable/);
  });

  test('attributes round-trip', () => {
    const a = { id: 0x8e9e05c52164694dn, name: 'infra1', clientURLs: ['http://127.0.0.1:2379'] };
    assert.deepEqual(decodeAttributes(encodeAttributes(a)), a);
  });
});
