import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backend } from '../backend/backend.ts';
import { ConfChangeType, type ConfChange } from '../raft/raftpb.ts';
import {
  RaftCluster,
  addMemberConfChange,
  parseInitialCluster,
  promoteMemberConfChange,
  removeMemberConfChange,
  updateMemberConfChange,
  type ConfChangeOutcome,
} from './cluster.ts';
import { computeClusterId, computeMemberId, decodeMemberContext, type Member } from './member.ts';
import {
  ErrIDExists,
  ErrIDNotFound,
  ErrIDRemoved,
  ErrLearnerNotReady,
  ErrMemberBadURLs,
  ErrMemberNotLearner,
  ErrNotEnoughStartedMembers,
  ErrPeerURLExists,
  ErrTooManyLearners,
  ErrUnhealthy,
} from './errors.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function backend(dir?: string): { be: Backend; dir: string } {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'tetcd-membership-'));
  if (!dir) dirs.push(d);
  return { be: Backend.open(d), dir: d };
}

const INITIAL = 'n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381,n3=http://127.0.0.1:2382';

/** A cluster whose bootstrap entries have been applied, as on a fresh member after its first Ready. */
function bootstrapped(be?: Backend): RaftCluster {
  const c = RaftCluster.fromInitialCluster(INITIAL, 'tok');
  if (be) c.attach(be);
  for (const p of c.bootstrapPeers()) {
    ok(
      c.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: p.id, context: p.context, id: 0n }),
    );
  }
  return c;
}

function ok(o: ConfChangeOutcome): Extract<ConfChangeOutcome, { ok: true }> {
  if (!o.ok) assert.fail(`conf change failed: ${o.error.message}`);
  return o;
}

function fails(o: ConfChangeOutcome, cls: new () => Error, message?: string): void {
  assert.equal(o.ok, false, 'conf change should have been refused');
  if (!o.ok) {
    assert.ok(o.error instanceof cls, `${o.error.name} is not ${cls.name}`);
    if (message) assert.equal(o.error.message, message);
  }
}

function add(c: RaftCluster, urls: string[], isLearner = false, nowMs = 1_700_000_000_000): Member {
  const m = c.newMember(urls, isLearner, nowMs);
  ok(c.applyConfChange(addMemberConfChange(m)));
  return m;
}

const idOf = (c: RaftCluster, name: string): bigint => c.memberByName(name)!.id;

describe('bootstrap', () => {
  test('--initial-cluster gives members sorted by ID with IDs from URLs + token and the cluster ID from those', () => {
    const c = RaftCluster.fromInitialCluster(INITIAL, 'tok');
    const ms = c.members();
    assert.equal(ms.length, 3);
    assert.deepEqual(
      ms.map((m) => m.id),
      [...ms.map((m) => m.id)].sort((a, b) => (a < b ? -1 : 1)),
    );
    const n2 = c.memberByName('n2')!;
    assert.equal(n2.id, computeMemberId(['http://127.0.0.1:2381'], 'tok'));
    assert.deepEqual(n2.peerURLs, ['http://127.0.0.1:2381']);
    assert.equal(c.clusterId, computeClusterId(ms.map((m) => m.id)));
    assert.equal(c.voters().length, 3);
    assert.equal(c.learners().length, 0);
  });

  test('a repeated name gives one member several URLs; malformed flags are refused', () => {
    const m = parseInitialCluster('a=http://h:2,a=http://h:1');
    assert.deepEqual(m.get('a'), ['http://h:1', 'http://h:2']);
    assert.throws(() => parseInitialCluster('a'), /want name=url/);
    assert.throws(() => parseInitialCluster('a=http://h'), /invalid --initial-cluster URL for a/);
    assert.throws(() => RaftCluster.fromInitialCluster('a=http://h:1,b=http://h:1', 't'), /same ID/);
  });

  test('bootstrap entries apply over the configured members, persist, and load after a restart', async () => {
    const { be, dir } = backend();
    const c = bootstrapped(be);
    assert.equal(c.members().length, 3);
    await be.close();
    const { be: be2 } = backend(dir);
    const l = RaftCluster.load(be2)!;
    assert.ok(l);
    assert.equal(l.clusterId, c.clusterId);
    assert.deepEqual(l.members(), c.members());
    assert.equal(l.memberByName('n3')!.peerURLs[0], 'http://127.0.0.1:2382');
    await be2.close();
  });

  test('load of a backend that never held a cluster is undefined', async () => {
    const { be } = backend();
    assert.equal(RaftCluster.load(be), undefined);
    await be.close();
  });

  test('a joining member replays the original AddNodes over the member list fetched from the cluster', () => {
    const src = bootstrapped();
    const joiner = RaftCluster.fromExisting(src.clusterId, src.members());
    for (const p of src.bootstrapPeers()) {
      ok(
        joiner.applyConfChange({
          type: ConfChangeType.ConfChangeAddNode,
          nodeId: p.id,
          context: p.context,
          id: 0n,
        }),
      );
    }
    assert.deepEqual(joiner.members(), src.members());
    // Once applied, the same AddNode again is a real collision.
    const again = src.bootstrapPeers()[0]!;
    fails(
      joiner.applyConfChange({
        type: ConfChangeType.ConfChangeAddNode,
        nodeId: again.id,
        context: again.context,
        id: 0n,
      }),
      ErrIDExists,
      'etcdserver: member ID already exist',
    );
  });
});

describe('add', () => {
  test('a new member gets an ID from its URLs and the time, and joins unstarted (no name)', () => {
    const c = bootstrapped();
    const m = add(c, ['http://10.0.0.4:2380']);
    assert.equal(m.id, computeMemberId(['http://10.0.0.4:2380'], '', 1_700_000_000));
    assert.equal(c.member(m.id)!.name, '');
    assert.equal(c.members().length, 4);
  });

  test('bad URLs, taken URLs and ID collisions are refused before proposing', () => {
    const c = bootstrapped();
    assert.throws(() => c.validateAdd(['http://x:1/p'], false), ErrMemberBadURLs);
    assert.throws(() => c.validateAdd([], false), ErrMemberBadURLs);
    assert.throws(() => c.validateAdd(['http://127.0.0.1:2381'], false), {
      name: 'ErrPeerURLExists',
      message: 'etcdserver: Peer URLs already exists',
    });
    const m = add(c, ['http://10.0.0.4:2380'], false, 5_000);
    // The same URLs again are taken; an ID equal to a member's (same URLs, same second) collides.
    assert.throws(() => c.newMember(['http://10.0.0.4:2380'], false, 5_999), ErrPeerURLExists);
    c.applyConfChange(updateMemberConfChange(m.id, ['http://10.0.0.5:2380']));
    assert.throws(() => c.newMember(['http://10.0.0.4:2380'], false, 5_999), {
      message: 'etcdserver: member ID already exist',
    });
  });

  test('of two proposals that both passed the pre-check, the second is refused at apply', () => {
    const c = bootstrapped();
    const a = c.newMember(['http://10.0.0.9:2380'], false, 1_000);
    const b = c.newMember(['http://10.0.0.9:2380'], false, 2_000);
    ok(c.applyConfChange(addMemberConfChange(a)));
    fails(c.applyConfChange(addMemberConfChange(b)), ErrPeerURLExists);
    assert.equal(c.has(b.id), false);
  });

  test('learners are limited by --max-learners, before proposing and at apply', () => {
    const c = bootstrapped();
    const l1 = c.newMember(['http://10.0.0.4:2380'], true, 1_000);
    const l2 = c.newMember(['http://10.0.0.5:2380'], true, 1_000);
    ok(c.applyConfChange(addMemberConfChange(l1)));
    assert.equal(c.learners().length, 1);
    assert.throws(() => c.validateAdd(['http://10.0.0.6:2380'], true), {
      message: 'etcdserver: too many learner members in cluster',
    });
    fails(c.applyConfChange(addMemberConfChange(l2)), ErrTooManyLearners);
    c.validateAdd(['http://10.0.0.6:2380'], false); // voters are not limited
    c.maxLearners = 2;
    ok(c.applyConfChange(addMemberConfChange(l2)));
    assert.equal(c.learners().length, 2);
  });

  test('the conf change is AddLearnerNode for a learner and carries the member', () => {
    const c = bootstrapped();
    const m = c.newMember(['http://10.0.0.4:2380'], true, 1_000);
    const cc = addMemberConfChange(m);
    assert.equal(cc.type, ConfChangeType.ConfChangeAddLearnerNode);
    assert.equal(cc.nodeId, m.id);
    assert.deepEqual(decodeMemberContext(cc.context), { member: m, isPromote: false });
  });
});

describe('remove', () => {
  test('a removed ID is gone, remembered across restarts, and never comes back', async () => {
    const { be, dir } = backend();
    const c = bootstrapped(be);
    const n2 = idOf(c, 'n2');
    c.validateRemove(n2);
    const o = ok(c.applyConfChange(removeMemberConfChange(n2)));
    assert.equal(o.kind, 'remove');
    assert.equal(o.member.name, 'n2');
    assert.equal(c.has(n2), false);
    assert.equal(c.isRemoved(n2), true);
    assert.throws(() => c.validateRemove(n2), ErrIDRemoved);
    fails(c.applyConfChange(removeMemberConfChange(n2)), ErrIDRemoved, 'etcdserver: member not found');
    // Re-adding the removed ID (e.g. a replayed AddNode) is refused.
    const ctx = c.bootstrapPeers()[0]!.context; // any well-formed context; the ID check comes first
    fails(
      c.applyConfChange({ type: ConfChangeType.ConfChangeAddNode, nodeId: n2, context: ctx, id: 0n }),
      ErrIDRemoved,
    );
    await be.close();
    const { be: be2 } = backend(dir);
    const l = RaftCluster.load(be2)!;
    assert.equal(l.isRemoved(n2), true);
    assert.deepEqual(l.removedIds(), [n2]);
    assert.equal(l.members().length, 2);
    await be2.close();
  });

  test('an unknown ID is "member not found"', () => {
    const c = bootstrapped();
    assert.throws(() => c.validateRemove(42n), {
      name: 'ErrIDNotFound',
      message: 'etcdserver: member not found',
    });
    fails(c.applyConfChange(removeMemberConfChange(42n)), ErrIDNotFound);
  });
});

describe('update', () => {
  test('replaces peer URLs only, keeping name, client URLs and learner status', () => {
    const c = bootstrapped();
    const l = add(c, ['http://10.0.0.4:2380'], true);
    c.applyAttributes(l.id, 'n4', ['http://10.0.0.4:2379']);
    const urls = c.validateUpdate(l.id, ['http://10.0.0.7:2380', 'http://10.0.0.6:2380']);
    assert.deepEqual(urls, ['http://10.0.0.6:2380', 'http://10.0.0.7:2380']);
    const o = ok(c.applyConfChange(updateMemberConfChange(l.id, urls)));
    assert.equal(o.kind, 'update');
    assert.deepEqual(c.member(l.id), {
      id: l.id,
      name: 'n4',
      peerURLs: urls,
      clientURLs: ['http://10.0.0.4:2379'],
      isLearner: true,
    });
  });

  test("refuses another member's URL, an unknown ID and bad URLs; keeping its own URL is fine", () => {
    const c = bootstrapped();
    const n1 = idOf(c, 'n1');
    assert.throws(() => c.validateUpdate(n1, ['http://127.0.0.1:2381']), ErrPeerURLExists);
    fails(c.applyConfChange(updateMemberConfChange(n1, ['http://127.0.0.1:2381'])), ErrPeerURLExists);
    assert.throws(() => c.validateUpdate(7n, ['http://a:1']), ErrIDNotFound);
    fails(c.applyConfChange(updateMemberConfChange(7n, ['http://a:1'])), ErrIDNotFound);
    assert.throws(() => c.validateUpdate(n1, ['http://a']), ErrMemberBadURLs);
    c.validateUpdate(n1, ['http://127.0.0.1:2380', 'http://10.1.1.1:2380']);
  });
});

describe('promote', () => {
  const progress = (m: number | undefined, leader: number) => ({ match: () => m, leaderMatch: leader });

  test('a learner in sync (>= 90% of the leader) is promoted to voter and stays so after restart', async () => {
    const { be, dir } = backend();
    const c = bootstrapped(be);
    const l = add(c, ['http://10.0.0.4:2380'], true);
    c.validatePromote(l.id, progress(90, 100));
    const o = ok(c.applyConfChange(promoteMemberConfChange(l.id)));
    assert.equal(o.kind, 'promote');
    assert.equal(c.member(l.id)!.isLearner, false);
    assert.equal(c.voters().length, 4);
    fails(c.applyConfChange(promoteMemberConfChange(l.id)), ErrMemberNotLearner);
    await be.close();
    const { be: be2 } = backend(dir);
    assert.equal(RaftCluster.load(be2)!.member(l.id)!.isLearner, false);
    await be2.close();
  });

  test('refuses a voter, a lagging learner, and an ID raft does not track', () => {
    const c = bootstrapped();
    const l = add(c, ['http://10.0.0.4:2380'], true);
    assert.throws(() => c.validatePromote(idOf(c, 'n1')), {
      message: 'etcdserver: can only promote a learner member',
    });
    assert.throws(() => c.validatePromote(l.id, progress(89, 100)), {
      name: 'ErrLearnerNotReady',
      message: 'etcdserver: can only promote a learner member which is in sync with leader',
    });
    assert.throws(() => c.validatePromote(l.id, progress(undefined, 100)), ErrIDNotFound);
    assert.throws(() => c.validatePromote(99n), ErrIDNotFound);
    fails(c.applyConfChange(promoteMemberConfChange(99n)), ErrIDNotFound);
    assert.equal(c.member(l.id)!.isLearner, true);
    assert.ok(new ErrLearnerNotReady() instanceof Error);
  });
});

describe('attributes (publish)', () => {
  test('set the name and client URLs, persisted; ignored for a removed member; a bug for an unknown one', async () => {
    const { be, dir } = backend();
    const c = bootstrapped(be);
    const m = add(c, ['http://10.0.0.4:2380']);
    assert.equal(c.applyAttributes(m.id, 'n4', ['http://10.0.0.4:2379']), true);
    assert.equal(c.memberByName('n4')!.id, m.id);
    ok(c.applyConfChange(removeMemberConfChange(idOf(c, 'n3'))));
    const n3 = computeMemberId(['http://127.0.0.1:2382'], 'tok');
    assert.equal(c.applyAttributes(n3, 'n3', []), false);
    assert.throws(() => c.applyAttributes(12345n, 'x', []), /unknown member/);
    await be.close();
    const { be: be2 } = backend(dir);
    assert.deepEqual(RaftCluster.load(be2)!.member(m.id)!.clientURLs, ['http://10.0.0.4:2379']);
    await be2.close();
  });
});

describe('strict reconfiguration checks', () => {
  test('adding needs a started quorum and every voter heard from recently', () => {
    const c = bootstrapped();
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((n) => idOf(c, n)) as [bigint, bigint, bigint];
    c.mayAddMember(false, n1, new Set([n2, n3]));
    assert.throws(() => c.mayAddMember(false, n1, new Set([n2])), {
      name: 'ErrUnhealthy',
      message: 'etcdserver: unhealthy cluster',
    });
    // Two voters that never started (no name) out of 5 after the add: 3 started >= quorum 3.
    add(c, ['http://10.0.0.4:2380'], false, 1_000);
    const all = new Set(c.voters().map((m) => m.id));
    c.mayAddMember(false, n1, all);
    const m5 = add(c, ['http://10.0.0.5:2380'], false, 2_000);
    all.add(m5.id);
    // Now 3 started of 5 voters; a 6th needs 4 started.
    assert.throws(() => c.mayAddMember(false, n1, all), {
      name: 'ErrNotEnoughStartedMembers',
      message: 'etcdserver: re-configuration failed due to not enough started members',
    });
    c.mayAddMember(true, n1, all); // a learner does not change the quorum
  });

  test('growing a single started member to two is allowed', () => {
    const c = RaftCluster.fromInitialCluster('solo=http://127.0.0.1:2380', 't');
    const solo = idOf(c, 'solo');
    c.mayAddMember(false, solo, new Set());
  });

  test('removing: learners always; a down voter always; an up voter only if the rest keep a quorum', () => {
    const c = bootstrapped();
    const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((n) => idOf(c, n)) as [bigint, bigint, bigint];
    c.mayRemoveMember(n3, n1, new Set([n2])); // n3 is down: removing it cannot hurt
    assert.throws(() => c.mayRemoveMember(n2, n1, new Set([n2])), ErrUnhealthy); // n3 down, n2 up
    c.mayRemoveMember(n2, n1, new Set([n2, n3]));
    c.mayRemoveMember(n1, n1, new Set([n2, n3])); // removing itself
    const l = add(c, ['http://10.0.0.4:2380'], true);
    c.mayRemoveMember(l.id, n1, new Set());
    // With two unstarted voters, the remaining started ones fall short of a quorum.
    const d = RaftCluster.fromExisting(c.clusterId, [
      ...c.voters(),
      { id: 11n, name: '', peerURLs: ['http://x:1'], clientURLs: [], isLearner: false },
      { id: 12n, name: '', peerURLs: ['http://x:2'], clientURLs: [], isLearner: false },
    ]);
    assert.throws(() => d.mayRemoveMember(n3, n1, new Set([n2, n3, 11n, 12n])), ErrNotEnoughStartedMembers);
  });

  test('promoting counts the learner as started', () => {
    const c = RaftCluster.fromExisting(1n, [
      { id: 1n, name: 'a', peerURLs: ['http://x:1'], clientURLs: [], isLearner: false },
      { id: 2n, name: '', peerURLs: ['http://x:2'], clientURLs: [], isLearner: false },
      { id: 3n, name: '', peerURLs: ['http://x:3'], clientURLs: [], isLearner: false },
      { id: 4n, name: '', peerURLs: ['http://x:4'], clientURLs: [], isLearner: true },
    ]);
    // 4 voters after promotion, quorum 3, started 1 + 1.
    assert.throws(() => c.mayPromoteMember(4n), ErrNotEnoughStartedMembers);
    c.applyAttributes(2n, 'b', []);
    c.mayPromoteMember(4n);
  });
});

test('a conf change whose context names another member is a bug and throws', () => {
  const c = bootstrapped();
  const m = c.newMember(['http://10.0.0.4:2380'], false, 1_000);
  const cc: ConfChange = { ...addMemberConfChange(m), nodeId: m.id + 1n };
  assert.throws(() => c.applyConfChange(cc), /carries member/);
});
