// kill -9 of the leader 25 times under continuous writes from several clients (>= 100 acknowledged
// writes/s before every kill): every acknowledged write is on every member at the revision its client
// was told, no client ever sees a revision go back, the members agree (hashkv, revision), and each time
// a write issued after the kill is acknowledged within 3 election timeouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Member, TestCluster } from './helpers/cluster.ts';
import { Client } from './helpers/client.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILLS = 25;
const WRITERS = 10;
/** Per write: a write the dead leader swallowed is given up on after this and the next one sent. */
const WRITE_DEADLINE_MS = 300;
/** Acknowledged writes per second required between two kills, over at least MIN_WINDOW_MS. */
const MIN_RATE = 100;
const MIN_WINDOW_MS = 500;

describe('repeated leader kill -9 under continuous writes (3 members)', { timeout: 200_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(3, {
      extraArgs: ['--snapshot-count', '200', '--snapshot-catchup-entries', '50'],
    });
    await c.waitLeader(15_000);
  });
  after(async () => {
    await c?.close();
  });

  const num = (v: unknown) => Number(v);

  /** Resolves once `m` has applied what the leader had committed when this was called. */
  async function caughtUp(m: Member, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let target = 0;
    for (;;) {
      const sts = await Promise.all(c.members.map((x) => c.status(x)));
      const mine = sts[c.members.indexOf(m)];
      const leaderId = mine ? String(mine['leader']) : '0';
      const lead = sts.find((s) => s && String((s['header'] as { memberId: unknown }).memberId) === leaderId);
      if (target === 0 && lead) target = num(lead['raftIndex']);
      if (target > 0 && mine && num(mine['raftAppliedIndex']) >= target) return;
      assert.ok(
        Date.now() < end,
        `${m.name} did not catch up with the leader within ${timeoutMs} ms:\n${m.stderr().slice(-3000)}`,
      );
      await sleep(50);
    }
  }

  test(`${KILLS} leader kills: nothing acknowledged is lost, members agree, failover < 3 election timeouts`, async () => {
    /** Acknowledged key -> the revision its Put response carried. */
    const acked = new Map<string, number>();
    const wentBack: string[] = [];
    let maxAckedRev = 0;
    let stop = false;
    let seq = 0;
    let killedAt = Infinity;
    let firstAfterKill: (() => void) | undefined;
    // Each writer cycles through the running members with a short deadline per write, as a failing-over
    // client does; one connection per writer and member.
    const writer = async (w: number) => {
      const clients = new Map(c.members.map((m) => [m, new Client(m.endpoint)]));
      try {
        while (!stop) {
          for (const m of c.members) {
            if (stop) break;
            if (!m.proc) continue;
            const key = `w${w}/${seq++}`;
            const sentAt = Date.now();
            // Anything acknowledged before this write was sent must carry a smaller revision.
            const floor = maxAckedRev;
            let rev: number;
            try {
              const r = await clients
                .get(m)!
                .call(
                  'etcdserverpb.KV',
                  'Put',
                  { key: Buffer.from(key), value: Buffer.from('v') },
                  WRITE_DEADLINE_MS,
                );
              rev = num(r['header'].revision);
            } catch {
              continue; // unacknowledged: it may or may not be there
            }
            acked.set(key, rev);
            if (rev <= floor)
              wentBack.push(`${key} at revision ${rev} from ${m.name} after ${floor} was acknowledged`);
            maxAckedRev = Math.max(maxAckedRev, rev);
            if (sentAt >= killedAt) firstAfterKill?.();
          }
        }
      } finally {
        for (const cl of clients.values()) cl.close();
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    const failover: number[] = [];
    const rates: number[] = [];
    try {
      let windowStart = Date.now();
      let ackedAtWindowStart = 0;
      for (let k = 0; k < KILLS; k++) {
        const leader = await c.waitLeader(10_000);
        const rest = MIN_WINDOW_MS - (Date.now() - windowStart);
        if (rest > 0) await sleep(rest);
        const rate = ((acked.size - ackedAtWindowStart) * 1000) / (Date.now() - windowStart);
        rates.push(rate);
        assert.ok(rate >= MIN_RATE, `before kill ${k + 1}: ${rate.toFixed(0)} acknowledged writes/s`);

        const answered = new Promise<void>((r) => (firstAfterKill = r));
        killedAt = Date.now();
        await c.kill9(leader);
        const limit = 3 * c.electionMs - (Date.now() - killedAt);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), limit)));
        const ok = await Promise.race([answered, late]);
        clearTimeout(timer);
        assert.notEqual(ok, 'late', `kill ${k + 1}: no write acknowledged within 3 election timeouts`);
        failover.push(Date.now() - killedAt);
        killedAt = Infinity;

        // The next window of writes runs while the killed member restarts and catches up, so that the
        // next kill leaves a quorum that can take writes at once.
        windowStart = Date.now();
        ackedAtWindowStart = acked.size;
        await c.restart(leader);
        await caughtUp(leader, 20_000);
      }
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    const sorted = [...failover].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
    console.log(
      `failover after leader kill -9 (${KILLS} kills, election timeout ${c.electionMs} ms): ` +
        `p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${sorted[sorted.length - 1]} ms; ` +
        `${acked.size} writes acknowledged, lowest rate before a kill ${Math.min(...rates).toFixed(0)}/s`,
    );
    assert.equal(failover.length, KILLS);
    await c.waitLeader(10_000);
    // Every member has applied everything (a linearizable read waits for that), then compare locally.
    const views = [];
    for (const m of c.members) {
      const cl = new Client(m.endpoint);
      try {
        await cl.range('w');
        const r = await cl.range('w', { rangeEnd: Buffer.from('x'), serializable: true, keysOnly: true });
        const keys = new Map(
          (r['kvs'] as { key: Buffer; modRevision: unknown }[]).map((kv) => [
            kv.key.toString(),
            num(kv.modRevision),
          ]),
        );
        const h = await cl.call('etcdserverpb.Maintenance', 'HashKV', { revision: 0 });
        views.push({ name: m.name, keys, rev: num(r['header'].revision), hash: String(h['hash']) });
      } finally {
        cl.close();
      }
    }
    for (const v of views) {
      const wrong = [...acked].filter(([k, rev]) => v.keys.get(k) !== rev);
      assert.deepEqual(wrong, [], `${v.name} lost acknowledged writes or has them at another revision`);
      // One revision per put: no revision was handed out twice or skipped.
      assert.equal(v.rev, v.keys.size + 1, `${v.name}: revision ${v.rev} for ${v.keys.size} keys`);
    }
    assert.equal(new Set(views.map((v) => v.hash)).size, 1, 'hashkv differs between members');
    assert.equal(new Set(views.map((v) => v.rev)).size, 1, 'revisions differ between members');
    assert.deepEqual(wentBack, [], 'a client saw the revision go back');
  });
});
