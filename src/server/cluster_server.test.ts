import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftCluster } from '../membership/cluster.ts';
import { ErrNotEnoughStartedMembers } from '../membership/errors.ts';
import type { Member } from '../membership/member.ts';
import { ErrProposalDropped, type ConfChange } from '../raft/index.ts';
import { clusterServerOf } from './cluster_server.ts';
import { Proposer } from './propose.ts';
import type { Stores } from './stores.ts';

const SELF = 0x11n;
const UNSTARTED = 0x22n;

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

/** A member of a one-voter cluster that added a second voter which never started (no name). */
function setup(strict: boolean, lead = SELF) {
  const members: Member[] = [
    { id: SELF, name: 'm1', peerURLs: ['http://127.0.0.1:1'], clientURLs: [], isLearner: false },
    { id: UNSTARTED, name: '', peerURLs: ['http://127.0.0.1:2'], clientURLs: [], isLearner: false },
  ];
  const cluster = RaftCluster.fromExisting(0x99n, members);
  const proposed: { cc: ConfChange; fail: (e: unknown) => void }[] = [];
  const raft = {
    lead: () => lead,
    setLead: (l: bigint) => (lead = l),
    proposeConfChange: (cc: ConfChange, fail: (e: unknown) => void) => proposed.push({ cc, fail }),
    isLeader: () => lead === SELF,
    matchOf: () => 0,
    term: () => 2,
  };
  const proposer = new Proposer({ propose: () => {}, pending: () => 0 }, SELF, 0, 6000, () => 0);
  const srv = clusterServerOf({
    stores: { cluster, revision: () => 1 } as unknown as Stores,
    raft,
    proposer,
    peers: { activePeers: () => new Set([SELF, UNSTARTED]) },
    reads: { barrier: () => undefined },
    memberId: SELF,
    strictReconfigCheck: strict,
  });
  return { srv, raft, proposed, proposer, cluster };
}

test('strict: a voter add and the started member removal are refused when too few members started', async () => {
  const { srv, proposed } = setup(true);
  await assert.rejects(srv.addMember(['http://127.0.0.1:3'], false), ErrNotEnoughStartedMembers);
  await assert.rejects(srv.removeMember(SELF), ErrNotEnoughStartedMembers);
  assert.equal(proposed.length, 0, 'nothing proposed');
});

test('not strict: the same changes are proposed', () => {
  const { srv, proposed } = setup(false);
  void srv.addMember(['http://127.0.0.1:3'], false).catch(() => {});
  void srv.removeMember(SELF).catch(() => {});
  assert.equal(proposed.length, 2);
});

test('a conf change waits for a leader (no "proposal dropped"), is proposed once there is one, and resolves on apply', async () => {
  const { srv, raft, proposed, proposer } = setup(false, 0n);
  const removed = srv.removeMember(UNSTARTED);
  mock.timers.tick(100);
  assert.equal(proposed.length, 0, 'held back while there is no leader');
  raft.setLead(SELF);
  mock.timers.tick(20);
  assert.equal(proposed.length, 1);
  proposer.take(proposed[0]!.cc.id)!.resolve(undefined);
  assert.ok(Array.isArray(await removed));
});

test('dropped because the leader just went: proposed again once a leader is back; other raft errors fail the call', async () => {
  const { srv, raft, proposed } = setup(false);
  const r = srv.removeMember(UNSTARTED);
  raft.setLead(0n);
  proposed[0]!.fail(new ErrProposalDropped());
  raft.setLead(SELF);
  mock.timers.tick(20);
  assert.equal(proposed.length, 2, 'proposed again');
  proposed[1]!.fail(new ErrProposalDropped()); // with a leader: a transfer under way, as etcd answers
  await assert.rejects(r, ErrProposalDropped);
});

test("the client's signal ends the wait: the call fails, nothing is proposed and the polling stops", async () => {
  const { srv, raft, proposed, proposer } = setup(false, 0n);
  const ac = new AbortController();
  const r = srv.removeMember(UNSTARTED, ac.signal);
  mock.timers.tick(40);
  ac.abort();
  await assert.rejects(r, (e: Error) => e.name === 'ErrCanceled');
  raft.setLead(SELF);
  mock.timers.tick(100);
  assert.equal(proposed.length, 0);
  // And a stopped member's waiters end theirs too.
  raft.setLead(0n);
  const s = srv.removeMember(UNSTARTED);
  proposer.failAll(new Error('stopped'));
  await assert.rejects(s, /stopped/);
  raft.setLead(SELF);
  mock.timers.tick(100);
  assert.equal(proposed.length, 0);
});

test("Cluster responses' header has no revision", () => {
  const { srv } = setup(true);
  assert.deepEqual(srv.responseHeader(), { clusterId: 0x99n, memberId: SELF, raftTerm: 2 });
});
