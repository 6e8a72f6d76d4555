// One version everywhere, and it is etcd 3.4's: /version, /health (body, status, content type, CORS
// headers), Maintenance.Status's version and `--version` compared with a live etcd 3.4.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { httpCall, type HttpAnswer } from './helpers/http_json.ts';
import { runTetcd } from './helpers/cli_run.ts';
import { DiffCluster, type Member } from './helpers/diff_cluster.ts';

const PKG = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('versions and health as etcd 3.4 gives them', { skip: !haveEtcd() }, () => {
  let etcd: ServerHandle;
  let tetcd: ServerHandle;
  before(async () => {
    [etcd, tetcd] = await Promise.all([startServer('etcd'), startServer('tetcd')]);
  });
  after(async () => {
    await Promise.all([etcd?.destroy(), tetcd?.destroy()]);
  });

  test('GET /version, /health, /health?serializable=true, /livez and /readyz answer alike; POST gets 405', async () => {
    for (const path of ['/version', '/health', '/health?serializable=true', '/livez', '/readyz']) {
      const [want, got] = await Promise.all([
        httpCall(etcd.port, path, undefined, { method: 'GET', timeoutMs: 10_000 }),
        httpCall(tetcd.port, path, undefined, { method: 'GET', timeoutMs: 10_000 }),
      ]);
      const shape = (a: HttpAnswer) => ({
        status: a.status,
        contentType: a.contentType,
        body: a.body,
        cors: a.status === 200 ? a.headers['access-control-allow-origin'] : undefined,
      });
      assert.deepEqual(shape(got), shape(want), path);
    }
    for (const path of ['/version', '/health']) {
      const [want, got] = await Promise.all([
        httpCall(etcd.port, path, undefined, { method: 'POST', timeoutMs: 10_000 }),
        httpCall(tetcd.port, path, undefined, { method: 'POST', timeoutMs: 10_000 }),
      ]);
      const shape = (a: HttpAnswer) => [
        a.status,
        a.contentType,
        a.body,
        a.headers['allow'],
        a.headers['x-content-type-options'],
      ];
      assert.deepEqual(shape(got), shape(want), `POST ${path}`);
    }
    const v = await httpCall(tetcd.port, '/version', undefined, { method: 'GET' });
    assert.deepEqual(JSON.parse(v.body), { etcdserver: '3.4.23', etcdcluster: '3.4.0' });
  });

  test("Maintenance.Status's version (etcdctl endpoint status) is etcd's", async () => {
    const [want, got] = await Promise.all([
      etcdctl(etcd.endpoint, ['endpoint', 'status', '-w', 'json']),
      etcdctl(tetcd.endpoint, ['endpoint', 'status', '-w', 'json']),
    ]);
    const version = (out: string) =>
      (JSON.parse(out) as { Status: { version: string } }[])[0]!.Status.version;
    assert.equal(version(got.stdout), version(want.stdout));
    assert.equal(version(got.stdout), '3.4.23');
  });

  test("tetcd --version prints etcd's lines with etcd's version, then tetcd's own", async () => {
    const want = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n');
    const r = await runTetcd(['--version']);
    assert.equal(r.code, 0);
    const got = r.stdout.split('\n');
    assert.equal(got[0], want[0], 'etcd Version line');
    assert.deepEqual(
      got.slice(0, 4).map((l) => l.split(':')[0]),
      want.slice(0, 4).map((l) => l.split(':')[0]),
    );
    assert.equal(got[3], want[3], 'Go OS/Arch');
    assert.equal(got[4], `tetcd Version: ${PKG.version}`);
  });
});

describe('/health on a member that lost its quorum answers as etcd 3.4', { skip: !haveEtcd() }, () => {
  const clusters: DiffCluster[] = [];
  after(async () => {
    await Promise.all(clusters.map((c) => c.close()));
  });

  /** The survivor's /health answers before and once two of three members are gone (polled, bounded). */
  async function scenario(kind: 'etcd' | 'tetcd') {
    const c = await DiffCluster.start(kind, 3);
    clusters.push(c);
    await c.waitLeader();
    const [m1, m2, m3] = c.members as [Member, Member, Member];
    const get = () => httpCall(m1.clientPort, '/health', undefined, { method: 'GET', timeoutMs: 5000 });
    const before = await get();
    await Promise.all([c.kill9(m2), c.kill9(m3)]);
    const until = Date.now() + 20_000;
    let after_ = await get().catch(() => undefined);
    while ((after_ === undefined || after_.status === 200) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 200));
      after_ = await get().catch(() => undefined);
    }
    assert.ok(after_, `${kind}: /health never answered`);
    const shape = (a: HttpAnswer) => [a.status, a.contentType, a.body];
    return { before: shape(before), after: shape(after_) };
  }

  test('200 {"health":"true"} while it has a leader, then 503 {"health":"false"}', async () => {
    const want = await scenario('etcd');
    const got = await scenario('tetcd');
    assert.deepEqual(got, want);
    assert.deepEqual(want.after, [503, 'text/plain; charset=utf-8', '{"health":"false"}\n']);
  });
});
