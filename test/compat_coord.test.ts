// Coordination through etcdctl 3.4 against tetcd and etcd 3.4: watch (prefix, history, prev_kv),
// leases (grant, attach, time-to-live with keys, list, keep-alive, revoke), lock and elect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { etcdctl, haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';

/** Lease IDs are random per server, a remaining TTL may tick a second apart; nothing else may differ. */
function normalise(s: string): string {
  return (
    s
      .split('\n')
      .filter((l) => !l.startsWith('{"level":'))
      .join('\n')
      // JSON IDs first: a decimal ID of 12-16 digits would otherwise pass for a hex lease ID.
      .replace(/"(cluster_id|member_id|raft_term|id|lease)":\d+/g, '"$1":X')
      .replace(/\b[0-9a-f]{12,16}\b/g, 'LEASE')
      .replace(/remaining\(\d+s\)/g, 'remaining(Ns)')
      .replace(/"ttl":\d+/g, '"ttl":N')
      // etcd keeps a lease's keys in a Go map: `timetolive --keys` lists them in random order.
      .replace(
        /attached keys\(\[([^\]]*)\]\)/g,
        (_m, keys: string) => `attached keys([${keys.split(' ').sort().join(' ')}])`,
      )
  );
}

/** Runs etcdctl until `stopAfterMs`, then interrupts it; returns what it printed. */
function runFor(endpoint: string, args: string[], stopAfterMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('etcdctl', [`--endpoints=${endpoint}`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => p.kill('SIGINT'), stopAfterMs);
    p.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

async function both<T>(
  a: ServerHandle,
  b: ServerHandle,
  f: (h: ServerHandle) => Promise<T>,
): Promise<[T, T]> {
  return Promise.all([f(a), f(b)]);
}

describe(
  'etcdctl 3.4 coordination commands: tetcd prints what etcd 3.4 prints',
  { skip: !haveEtcd() },
  () => {
    let tetcd: ServerHandle;
    let etcd: ServerHandle;
    before(async () => {
      [tetcd, etcd] = await Promise.all([startServer('tetcd'), startServer('etcd')]);
    });
    after(async () => {
      await Promise.all([tetcd?.destroy(), etcd?.destroy()]);
    });

    test('watch --prefix --prev-kv sees live puts and deletes; watch --rev replays history', async () => {
      const [t, e] = await both(tetcd, etcd, async (h) => {
        const live = runFor(h.endpoint, ['watch', '--prefix', 'w/', '--prev-kv'], 2500);
        await new Promise((r) => setTimeout(r, 700));
        await etcdctl(h.endpoint, ['put', 'w/a', '1']);
        await etcdctl(h.endpoint, ['put', 'w/a', '2']);
        await etcdctl(h.endpoint, ['put', 'x', 'not watched']);
        await etcdctl(h.endpoint, ['txn'], '\nput w/b 3\nput w/c 4\n\n\n');
        await etcdctl(h.endpoint, ['del', '--prefix', 'w/']);
        const liveOut = await live;
        const history = await runFor(h.endpoint, ['watch', 'w/a', '--rev', '1', '-w', 'json'], 1200);
        const fromRev = await runFor(h.endpoint, ['watch', '--prefix', 'w/', '--rev', '4'], 1200);
        return { liveOut, history, fromRev };
      });
      assert.ok(e.liveOut.includes('PUT'), `etcd's watch printed nothing: ${e.liveOut}`);
      assert.equal(normalise(t.liveOut), normalise(e.liveOut));
      assert.equal(normalise(t.history), normalise(e.history));
      assert.equal(normalise(t.fromRev), normalise(e.fromRev));
    });

    test('lease grant, put --lease, timetolive --keys, list, keep-alive --once, revoke, and errors', async () => {
      const [t, e] = await both(tetcd, etcd, async (h) => {
        const out: string[] = [];
        const g = await etcdctl(h.endpoint, ['lease', 'grant', '100']);
        out.push(g.stdout);
        const id = g.stdout.split(' ')[1]!;
        for (const args of [
          ['put', '--lease', id, 'lk1', 'v1'],
          ['put', '--lease', id, 'lk2', 'v2'],
          ['lease', 'timetolive', id, '--keys'],
          ['lease', 'timetolive', id, '-w', 'json'],
          ['lease', 'list'],
          ['lease', 'keep-alive', '--once', id],
          ['get', 'lk1', '-w', 'json'],
          ['lease', 'revoke', id],
          ['get', 'lk', '--prefix'],
          ['lease', 'timetolive', id],
          ['lease', 'revoke', id],
          ['put', '--lease', id, 'lk3', 'v'],
          ['lease', 'grant', '1'],
        ]) {
          const r = await etcdctl(h.endpoint, args);
          out.push(`$ ${args.join(' ').replace(id, 'ID')}\n${r.stdout}${r.stderr}exit ${r.code}`);
        }
        return out;
      });
      assert.equal(t.length, e.length);
      for (let i = 0; i < t.length; i++) assert.equal(normalise(t[i]!), normalise(e[i]!));
    });

    test('lock runs a command under the lock; elect proclaims the campaigner', async () => {
      const [t, e] = await both(tetcd, etcd, async (h) => {
        const lock = await etcdctl(h.endpoint, ['lock', 'mylock', 'echo', 'held']);
        const elect = await runFor(h.endpoint, ['elect', 'myelection', 'leader-1'], 1500);
        const listen = await runFor(h.endpoint, ['elect', '-l', 'myelection'], 1000);
        return { lock: lock.stdout + lock.stderr + lock.code, elect, listen };
      });
      assert.equal(e.lock, 'held\n0');
      assert.equal(t.lock, e.lock);
      assert.ok(e.elect.includes('leader-1'));
      assert.equal(normalise(t.elect), normalise(e.elect));
      assert.equal(normalise(t.listen), normalise(e.listen));
    });

    test('two clients taking the same lock in a loop never hold it together: the guarded counter ends exact', async () => {
      const h = tetcd;
      await etcdctl(h.endpoint, ['put', 'counter', '0']);
      const ctl = `etcdctl --endpoints=${h.endpoint}`;
      const body = `v=$(${ctl} get counter --print-value-only); ${ctl} put counter $((v+1)) >/dev/null`;
      const worker = async () => {
        for (let i = 0; i < 8; i++) {
          const r = await etcdctl(h.endpoint, ['lock', 'counter-lock', '--', 'sh', '-c', body]);
          assert.equal(r.code, 0, r.stderr);
        }
      };
      await Promise.all([worker(), worker()]);
      const r = await etcdctl(h.endpoint, ['get', 'counter', '--print-value-only']);
      assert.equal(r.stdout.trim(), '16');
    });
  },
);
