// Online defragmentation (issue 14): etcdctl defrag against a tetcd that is being written to. Every
// acknowledged write is there afterwards (and after a restart), the file shrinks, writes keep being
// answered during the defrag, and etcdctl prints what it prints for etcd 3.4 (single member and
// `--cluster` on three members).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import { DiffCluster } from './helpers/diff_cluster.ts';
import { Client } from './helpers/client.ts';

const BIG = 'x'.repeat(50_000);

/** etcdctl defrag's output with the endpoints masked. */
const masked = (s: string) => s.replace(/member\[[^\]]*\]/g, 'member[<ep>]');

async function fillAndFree(c: Client, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await c.put(`big/${i}`, BIG);
  const r = await c.deleteRange('big/', { rangeEnd: Buffer.from('big0') });
  await c.compact(Number(r.header.revision), true);
}

describe('online defrag of one member under writes', { timeout: 120_000 }, () => {
  let h: ServerHandle;
  let c: Client;
  before(async () => {
    h = await startServer('tetcd');
    c = new Client(h.endpoint);
  });
  after(async () => {
    c.close();
    await h.destroy();
  });

  test('no acknowledged write is lost, writes are answered meanwhile, the file shrinks', async () => {
    await fillAndFree(c, 200);
    const before = Number((await c.status()).dbSize);
    const acked: number[] = [];
    let stop = false;
    let slowest = 0;
    const writer = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const t0 = performance.now();
        await c.put(`w/${i}`, String(i));
        slowest = Math.max(slowest, performance.now() - t0);
        acked.push(i);
      }
    })();
    while (acked.length < 20) await new Promise((r) => setTimeout(r, 10));
    const d = await etcdctl(h.endpoint, ['defrag']);
    const duringDefrag = acked.length;
    stop = true;
    await writer;
    assert.equal(d.code, 0, d.stderr);
    assert.equal(masked(d.stdout), 'Finished defragmenting etcd member[<ep>]\n');
    assert.ok(duringDefrag > 20, 'writes were answered while the defrag ran');
    const afterSize = Number((await c.status()).dbSize);
    assert.ok(afterSize < before / 2, `the file shrank: ${before} -> ${afterSize}`);
    const check = async (cl: Client) => {
      const got = await cl.range('w/', { rangeEnd: Buffer.from('w0'), countOnly: true });
      assert.equal(Number(got.count), acked.length, 'every acknowledged write is there');
    };
    await check(c);
    c.close();
    await h.stop();
    h = await h.restart();
    c = new Client(h.endpoint);
    await check(c);
    const reopened = Number((await c.status()).dbSize);
    assert.ok(reopened < before / 2, `the defragmented file is the one reopened: ${reopened} bytes`);
    assert.ok(slowest < 5000, `slowest put ${slowest.toFixed(0)} ms`);
  });
});

describe('etcdctl defrag --cluster, against etcd 3.4', { timeout: 120_000 }, () => {
  const outputs: Partial<Record<'etcd' | 'tetcd', string>> = {};
  for (const kind of ['tetcd', 'etcd'] as const) {
    test(`${kind}: defrag --cluster defragments every member`, async (t) => {
      if (kind === 'etcd' && !haveEtcd()) {
        t.diagnostic('SKIPPED: etcd 3.4 is not installed');
        return;
      }
      const cl = await DiffCluster.start(kind, 3);
      try {
        const ep = cl.members[0]!.endpoint;
        const c = new Client(ep);
        await fillAndFree(c, 50);
        c.close();
        const d = await etcdctl(ep, ['defrag', '--cluster']);
        assert.equal(d.code, 0, d.stderr);
        outputs[kind] = masked(d.stdout);
        assert.equal(outputs[kind]!.split('\n').filter(Boolean).length, 3);
        for (const m of cl.members) {
          const s = await etcdctl(m.endpoint, ['endpoint', 'status', '-w', 'json']);
          assert.equal(s.code, 0, s.stderr);
        }
      } finally {
        await cl.close();
      }
      if (kind === 'etcd') assert.equal(outputs.tetcd, outputs.etcd);
    });
  }
});
