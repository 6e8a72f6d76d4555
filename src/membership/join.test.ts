import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster } from './cluster.ts';
import { ClusterInfoError, decodeClusterInfo, encodeClusterInfo, findMemberByPeerUrls } from './join.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('the cluster ID and members survive the round trip, 64-bit IDs included', () => {
  const c = RaftCluster.fromInitialCluster('a=http://127.0.0.1:1,b=http://127.0.0.1:2', 'tok');
  const info = decodeClusterInfo(encodeClusterInfo(c));
  assert.equal(info.clusterId, c.clusterId);
  assert.deepEqual(info.members, c.members());
  const b = c.memberByName('b')!;
  assert.equal(findMemberByPeerUrls(info.members, ['http://127.0.0.1:2'])?.id, b.id);
  assert.equal(findMemberByPeerUrls(info.members, ['http://127.0.0.1:3']), undefined);
});

test('bad input is a ClusterInfoError', () => {
  const bad = [
    '',
    'not json',
    '[]',
    '{"clusterId":"12","members":[]}',
    '{"clusterId":"0","members":[{"id":"1"}]}',
    '{"clusterId":"99999999999999999999","members":[{"id":"1"}]}',
    '{"clusterId":12,"members":[{"id":"1"}]}',
    '{"clusterId":"12","members":[{"id":"x"}]}',
    '{"clusterId":"12","members":[null]}',
  ];
  for (const s of bad) assert.throws(() => decodeClusterInfo(enc(s)), ClusterInfoError, s);
  assert.throws(() => decodeClusterInfo(new Uint8Array([0xff, 0xfe])), ClusterInfoError);
});
