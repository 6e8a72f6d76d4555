// The Cluster service over real gRPC on loopback (the router on the HTTP/2 front, grpc-js as the
// client), with a Cluster (server/api.ts) backed by an in-memory RaftCluster that applies each change at once
// (no raft): responses, uint64 IDs and error statuses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { messageType, toBigInt, fromBigInt, type Int64 } from '../src/proto/index.ts';
import { createLogger } from '../src/pkg/logger.ts';
import { clusterService } from '../src/api/grpc/cluster.ts';
import { GrpcRouter } from '../src/api/grpc/router.ts';
import { listenClient, type ClientListener } from '../src/api/http/listener.ts';
import { createServer as createHttpServer } from 'node:http';
import type { Cluster } from '../src/server/api.ts';
import {
  RaftCluster,
  addMemberConfChange,
  promoteMemberConfChange,
  removeMemberConfChange,
  updateMemberConfChange,
} from '../src/membership/cluster.ts';
import type { Member } from '../src/membership/member.ts';
import { ErrNotEnoughStartedMembers, ErrUnhealthy } from '../src/membership/errors.ts';
import type { ConfChange } from '../src/raft/raftpb.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { haveEtcd } from './helpers/procs.ts';
import { NO_AUTH } from '../src/api/grpc/auth.ts';

const LOCAL_ID = (1n << 64n) - 2n; // above 2^63: must travel as unsigned

class FakeServer implements Cluster {
  readonly cluster = RaftCluster.fromInitialCluster(
    'n1=http://127.0.0.1:2380,n2=http://127.0.0.1:2381,n3=http://127.0.0.1:2382',
    'tok',
  );
  calls: string[] = [];
  learnerMatch = 100;
  failNext: Error | undefined;

  constructor() {
    for (const p of this.cluster.bootstrapPeers()) {
      this.apply({ type: 0, nodeId: p.id, context: p.context, id: 0n });
    }
  }

  private apply(cc: ConfChange): Member[] {
    const o = this.cluster.applyConfChange(cc);
    if (!o.ok) throw o.error;
    return this.cluster.members();
  }

  private take(call: string): void {
    this.calls.push(call);
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
  }

  async addMember(peerURLs: string[], isLearner: boolean) {
    this.take(`add ${peerURLs.join(',')} ${isLearner}`);
    const member = this.cluster.newMember(peerURLs, isLearner, 1_700_000_000_000);
    return { member, members: this.apply(addMemberConfChange(member)) };
  }
  async removeMember(id: bigint) {
    this.take(`remove ${id}`);
    this.cluster.validateRemove(id);
    return this.apply(removeMemberConfChange(id));
  }
  async updateMember(id: bigint, peerURLs: string[]) {
    this.take(`update ${id}`);
    const urls = this.cluster.validateUpdate(id, peerURLs);
    return this.apply(updateMemberConfChange(id, urls));
  }
  async promoteMember(id: bigint) {
    this.take(`promote ${id}`);
    this.cluster.validatePromote(id, { match: () => this.learnerMatch, leaderMatch: 100 });
    return this.apply(promoteMemberConfChange(id));
  }
  async listMembers(linearizable: boolean) {
    this.take(`list ${linearizable}`);
    return this.cluster.members();
  }
  responseHeader() {
    return { clusterId: this.cluster.clusterId, memberId: LOCAL_ID, raftTerm: 3 };
  }
}

interface MemberOut {
  ID: Int64;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}
interface Resp {
  header: { clusterId: Int64; memberId: Int64; revision: Int64; raftTerm: Int64 };
  member?: MemberOut;
  members: MemberOut[];
}

const fake = new FakeServer();
let listener: ClientListener;
let client: grpc.Client;
let endpoint = '';

before(async () => {
  const router = new GrpcRouter({ maxReceiveBytes: 1 << 20, log: createLogger('silent') });
  // This member leads: nothing is forwarded.
  router.service(
    'etcdserverpb.Cluster',
    clusterService(fake, async () => undefined, NO_AUTH),
  );
  listener = await listenClient('127.0.0.1', 0, { route: router.route }, createHttpServer());
  endpoint = `127.0.0.1:${listener.port}`;
  client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
});

after(async () => {
  client.close();
  await listener.close();
});

function call(method: string, req: object): Promise<Resp> {
  const reqType = messageType(`etcdserverpb.${method}Request`);
  const respType = messageType(`etcdserverpb.${method}Response`);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/etcdserverpb.Cluster/${method}`,
      (v: object) => Buffer.from(reqType.encode(reqType.fromObject(v)).finish()),
      (b: Buffer) => respType.toObject(respType.decode(b), { defaults: true }) as Resp,
      req,
      (err, resp) => (err ? reject(err) : resolve(resp!)),
    );
  });
}

async function refused(p: Promise<unknown>, code: grpc.status, details: string): Promise<void> {
  await assert.rejects(p, (e: grpc.ServiceError) => {
    assert.equal(e.code, code, `code ${e.code} (${e.details})`);
    assert.equal(e.details, details);
    return true;
  });
}

const ids = (r: Resp) => r.members.map((m) => toBigInt(m.ID, true));
const u64 = (v: bigint) => fromBigInt(v, true);

describe('etcdserverpb.Cluster over gRPC', () => {
  test('MemberList answers every member with exact uint64 IDs and the header', async () => {
    const r = await call('MemberList', { linearizable: true });
    assert.deepEqual(
      ids(r),
      fake.cluster.members().map((m) => m.id),
    );
    assert.deepEqual(
      r.members.map((m) => m.name),
      fake.cluster.members().map((m) => m.name),
    );
    assert.deepEqual(r.members[0]!.peerURLs, fake.cluster.members()[0]!.peerURLs);
    assert.equal(toBigInt(r.header.clusterId, true), fake.cluster.clusterId);
    assert.equal(toBigInt(r.header.memberId, true), LOCAL_ID);
    assert.equal(Number(r.header.revision), 0, "etcd's cluster responses carry no revision");
    assert.equal(Number(r.header.raftTerm), 3);
    assert.equal(fake.calls.at(-1), 'list true');
    await call('MemberList', {});
    assert.equal(fake.calls.at(-1), 'list false');
  });

  test('MemberAdd answers the new learner (sorted URLs, no name) and the new list', async () => {
    const r = await call('MemberAdd', {
      peerURLs: ['http://10.0.0.5:2380', 'http://10.0.0.4:2380'],
      isLearner: true,
    });
    const m = r.member!;
    assert.deepEqual(m.peerURLs, ['http://10.0.0.4:2380', 'http://10.0.0.5:2380']);
    assert.equal(m.isLearner, true);
    assert.equal(m.name, '');
    assert.equal(r.members.length, 4);
    assert.ok(ids(r).includes(toBigInt(m.ID, true)));
    assert.equal(fake.cluster.member(toBigInt(m.ID, true))!.isLearner, true);
  });

  test('MemberAdd refusals carry etcd codes and messages', async () => {
    const before = fake.calls.length;
    await refused(
      call('MemberAdd', { peerURLs: ['http://10.0.0.6:2380/x'] }),
      grpc.status.INVALID_ARGUMENT,
      'etcdserver: given member URLs are invalid',
    );
    await refused(
      call('MemberAdd', { peerURLs: [] }),
      grpc.status.INVALID_ARGUMENT,
      'etcdserver: given member URLs are invalid',
    );
    assert.equal(fake.calls.length, before, 'bad URLs never reach the server');
    await refused(
      call('MemberAdd', { peerURLs: ['http://127.0.0.1:2381'] }),
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: Peer URLs already exists',
    );
    await refused(
      call('MemberAdd', { peerURLs: ['http://10.0.0.7:2380'], isLearner: true }),
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: too many learner members in cluster',
    );
    fake.failNext = new ErrNotEnoughStartedMembers();
    // etcd 3.4 sends this one as Unknown (its error table maps it to a client-side value).
    await refused(
      call('MemberAdd', { peerURLs: ['http://10.0.0.7:2380'] }),
      grpc.status.UNKNOWN,
      'etcdserver: re-configuration failed due to not enough started members',
    );
    fake.failNext = new ErrUnhealthy();
    await refused(
      call('MemberAdd', { peerURLs: ['http://10.0.0.7:2380'] }),
      grpc.status.UNAVAILABLE,
      'etcdserver: unhealthy cluster',
    );
  });

  test('MemberPromote refuses a voter and a lagging learner, then promotes', async () => {
    const learner = fake.cluster.learners()[0]!;
    const voter = fake.cluster.voters()[0]!;
    await refused(
      call('MemberPromote', { ID: u64(voter.id) }),
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: can only promote a learner member',
    );
    fake.learnerMatch = 80;
    await refused(
      call('MemberPromote', { ID: u64(learner.id) }),
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: can only promote a learner member which is in sync with leader',
    );
    fake.learnerMatch = 95;
    const r = await call('MemberPromote', { ID: u64(learner.id) });
    assert.equal(r.members.find((m) => toBigInt(m.ID, true) === learner.id)!.isLearner, false);
    await refused(
      call('MemberPromote', { ID: u64(12345n) }),
      grpc.status.NOT_FOUND,
      'etcdserver: member not found',
    );
  });

  test('MemberUpdate replaces peer URLs; a taken URL or unknown ID is refused', async () => {
    const n1 = fake.cluster.memberByName('n1')!;
    const r = await call('MemberUpdate', { ID: u64(n1.id), peerURLs: ['http://127.0.0.1:3380'] });
    assert.deepEqual(r.members.find((m) => toBigInt(m.ID, true) === n1.id)!.peerURLs, [
      'http://127.0.0.1:3380',
    ]);
    await refused(
      call('MemberUpdate', { ID: u64(n1.id), peerURLs: ['http://127.0.0.1:2382'] }),
      grpc.status.FAILED_PRECONDITION,
      'etcdserver: Peer URLs already exists',
    );
    await refused(
      call('MemberUpdate', { ID: u64(3n), peerURLs: ['http://127.0.0.1:4380'] }),
      grpc.status.NOT_FOUND,
      'etcdserver: member not found',
    );
  });

  test('MemberRemove removes once; the ID is then not found; a max uint64 ID arrives intact', async () => {
    const n3 = fake.cluster.memberByName('n3')!;
    const r = await call('MemberRemove', { ID: u64(n3.id) });
    assert.equal(ids(r).includes(n3.id), false);
    await refused(
      call('MemberRemove', { ID: u64(n3.id) }),
      grpc.status.NOT_FOUND,
      'etcdserver: member not found',
    );
    const max = (1n << 64n) - 1n;
    await refused(
      call('MemberRemove', { ID: u64(max) }),
      grpc.status.NOT_FOUND,
      'etcdserver: member not found',
    );
    assert.equal(fake.calls.at(-1), `remove ${max}`);
  });
});

test(
  'etcdctl 3.4 member list / add / remove / promote / update understand the answers',
  { skip: !haveEtcd() },
  async () => {
    const run = async (...args: string[]) =>
      (
        await promisify(execFile)('etcdctl', ['--endpoints', endpoint, '--command-timeout=5s', ...args], {
          timeout: 10_000,
        })
      ).stdout;
    const table = await run('member', 'list');
    for (const m of fake.cluster.members()) {
      assert.match(
        table,
        new RegExp(
          `^${m.id.toString(16)}, ${m.name ? 'started' : 'unstarted'}, ${m.name}, ${m.peerURLs.join(',')}, , (true|false)$`,
          'm',
        ),
      );
    }
    const added = await run('member', 'add', 'n9', '--peer-urls=http://10.9.9.9:2380');
    const id = [...fake.cluster.members()].find((m) => m.peerURLs[0] === 'http://10.9.9.9:2380')!.id;
    assert.match(
      added,
      new RegExp(`Member ${id.toString(16)} added to cluster ${fake.cluster.clusterId.toString(16)}`),
    );
    assert.match(added, /ETCD_INITIAL_CLUSTER_STATE="existing"/);
    const removed = await run('member', 'remove', id.toString(16));
    assert.match(removed, new RegExp(`Member ${id.toString(16)} removed from cluster`));
    await assert.rejects(run('member', 'remove', id.toString(16)), /member not found/);
    await run('member', 'add', 'n8', '--peer-urls=http://10.8.8.8:2380', '--learner');
    const l = fake.cluster.learners()[0]!;
    const hex = l.id.toString(16);
    assert.match(await run('member', 'promote', hex), new RegExp(`Member ${hex} promoted in cluster`));
    assert.equal(fake.cluster.member(l.id)!.isLearner, false);
    await assert.rejects(run('member', 'promote', hex), /can only promote a learner member/);
    assert.match(
      await run('member', 'update', hex, '--peer-urls=http://10.8.8.9:2380'),
      new RegExp(`Member ${hex} updated in cluster`),
    );
    assert.deepEqual(fake.cluster.member(l.id)!.peerURLs, ['http://10.8.8.9:2380']);
  },
);
