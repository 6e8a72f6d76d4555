// HTTP/2 attacks on a tetcd member (bin/tetcd, one member, loopback). Each attack runs at full speed
// for a bounded time from its own process (helpers/h2_attacker.ts) while a probe client (node:http2,
// its own connection) reads a key with a gRPC Range every 20 ms. For every attack:
//   - the member stays up, and once the attacker has left a fresh connection is served;
//   - every probe call made during the attack is answered OK within 1 s (the issue's Done-when; the
//     aim is under 100 ms, and the p50/p99/max are printed);
//   - the member's RSS (/proc/<pid>/status VmRSS) grows by less than 300 MiB during the attack, and
//     is back under its baseline + 100 MiB within 12 s of the attacker leaving (the probe goes on
//     meanwhile). Measured on the unhardened front: V8 gave a 240 MiB peak back in ~10 s; after
//     bursts of 1 MB and 64 KiB buffers RSS stayed up for 40 s and more (freed memory that the
//     allocator keeps), so only a bounded peak passes this check;
//   - where the issue defines the protective reaction, the attacker sees it on the wire (floods:
//     GOAWAY ENHANCE_YOUR_CALM).
// A member whose RSS passes 1.5 GiB is killed by the test (unbounded growth) so that the host
// survives, and the next attack gets a new member.
//
// H2_ATTACK_MS=<ms> changes the length of each attack (default 4000); H2_ATTACKS=<kind>,<kind> runs
// only those; H2_ATTACK_REPORT=<file> writes every measurement as JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { startServer, type ServerHandle } from './helpers/procs.ts';
import { Client } from './helpers/client.ts';
import type { AttackKind, AttackReport } from './helpers/h2_attacker.ts';
import {
  Probe,
  forkAttack,
  latencyStats,
  mib,
  openSession,
  rangeOnce,
  rssOf,
  showLatency,
  type LatencyStats,
} from './helpers/h2_probe.ts';

const MiB = 1024 * 1024;
const ATTACK_MS = Number(process.env.H2_ATTACK_MS ?? 4000);
/** The issue's bound on a probe answer during an attack. */
const PROBE_BOUND_MS = 1000;
const RSS_GROWTH_BOUND = 300 * MiB;
/** After the attacker leaves, RSS must come back under baseline + this... */
const RSS_GIVEBACK_BOUND = 100 * MiB;
/** ...within this long. */
const GIVEBACK_WAIT_MS = 12_000;
/** Past this RSS the member is killed: its memory is not bounded, and the host must survive. */
const RSS_KILL = 1536 * MiB;
/** How long a connection without a whole preface may be held (the preface timeout's bound here). */
const SLOWLORIS_MS = 10_000;

const PROBE_KEY = 'probe/key';
const BIG_KEY = 'big/1mb';

/** Members that died (or were killed) during the attacks, and why. */
const deaths: string[] = [];
const results: Record<string, unknown> = {};
/** H2_ATTACKS=kind,kind runs only those attacks (for working on one). */
const only = process.env.H2_ATTACKS?.split(',');

/** A new member for each attack, so that no attack's leftovers weigh on the next. */
async function startMember(): Promise<ServerHandle> {
  const s = await startServer('tetcd');
  const c = new Client(s.endpoint);
  try {
    await c.put(PROBE_KEY, 'probe-value');
    await c.put(BIG_KEY, Buffer.alloc(1_000_000, 0x61));
  } finally {
    c.close();
  }
  return s;
}

const alive = (s: ServerHandle) => s.proc.exitCode === null && s.proc.signalCode === null;

after(() => {
  if (process.env.H2_ATTACK_REPORT)
    writeFileSync(process.env.H2_ATTACK_REPORT, JSON.stringify(results, null, 2));
});

interface Outcome {
  kind: AttackKind;
  report: AttackReport | undefined;
  attackError: string | undefined;
  /** Why the member is not up after the attack (undefined: it is). */
  death: string | undefined;
  /** The probe calls started during the attack. */
  latency: LatencyStats;
  slowProbes: number;
  probeFailures: string[];
  rssBefore: number;
  rssPeak: number;
  rssAfter: number | undefined;
  rssAfterMs: number | undefined;
  /** The fresh connection's Range after the attack: its time, or why it failed. */
  fresh: number | string;
}

async function underProbe(kind: AttackKind, ms = ATTACK_MS): Promise<Outcome> {
  const s = await startMember();
  try {
    return await measure(s, kind, ms);
  } finally {
    await s.destroy();
  }
}

async function measure(s: ServerHandle, kind: AttackKind, ms: number): Promise<Outcome> {
  const pid = s.proc.pid!;
  const probe = await Probe.start(s.port, PROBE_KEY);
  // The baseline is taken once the member has served the probe for a while.
  await new Promise((r) => setTimeout(r, 500));
  const rssBefore = rssOf(pid)!;
  let rssPeak = rssBefore;
  let killedAt: number | undefined;
  const sampler = setInterval(() => {
    const r = rssOf(pid);
    if (r === undefined) return;
    rssPeak = Math.max(rssPeak, r);
    if (r > RSS_KILL && killedAt === undefined) {
      killedAt = r;
      s.proc.kill('SIGKILL');
    }
  }, 25);
  let report: AttackReport | undefined;
  let attackError: string | undefined;
  const from = performance.now();
  try {
    report = await forkAttack({ kind, port: s.port, ms, key: PROBE_KEY, bigKey: BIG_KEY });
  } catch (e) {
    attackError = (e as Error).message;
  }
  const to = performance.now();
  // After the attacker has left: a fresh connection, then the memory given back (the probe goes on:
  // a member in service is never idle, and V8 frees buffers only when it collects).
  let fresh: number | string = 'member down';
  if (alive(s)) {
    try {
      const sess = await openSession(s.port, 3000);
      try {
        fresh = await rangeOnce(sess, PROBE_KEY, 3000);
      } finally {
        sess.destroy();
      }
    } catch (e) {
      fresh = (e as Error).message;
    }
  }
  let rssAfter: number | undefined;
  let rssAfterMs: number | undefined;
  const t0 = Date.now();
  while (alive(s) && Date.now() - t0 < GIVEBACK_WAIT_MS) {
    rssAfter = rssOf(pid);
    rssAfterMs = Date.now() - t0;
    if (rssAfter !== undefined && rssAfter <= rssBefore + RSS_GIVEBACK_BOUND) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  clearInterval(sampler);
  await probe.stop();
  const during = probe.between(from, to);
  let death: string | undefined;
  if (killedAt !== undefined) death = `killed by the test at RSS ${mib(killedAt)} (growth without bound)`;
  else if (!alive(s)) {
    death = `exited (${s.proc.exitCode ?? s.proc.signalCode}); stderr tail: ${s.stderr().slice(-600)}`;
  }
  if (death !== undefined) deaths.push(`${kind}: ${death}`);
  const o: Outcome = {
    kind,
    report,
    attackError,
    death,
    latency: latencyStats(during.map((x) => x.ms)),
    slowProbes: during.filter((x) => x.ms >= PROBE_BOUND_MS).length,
    probeFailures: [...new Set(during.flatMap((x) => (x.error === undefined ? [] : [x.error])))].slice(0, 5),
    rssBefore,
    rssPeak,
    rssAfter,
    rssAfterMs,
    fresh,
  };
  results[kind] = o;
  console.log(summary(o));
  return o;
}

function summary(o: Outcome): string {
  const r = o.report;
  const wire =
    r === undefined
      ? `attacker: ${o.attackError}`
      : `conns=${r.connections} (connected ${r.connected}, server ended ${r.endedByServer}, open at end ${r.openAtEnd}) ` +
        `sent=${mib(r.bytesSent)} recv=${mib(r.bytesReceived)} streams=${r.streams} ok=${r.okAnswers} refused=${r.refused} ` +
        `goaway=${JSON.stringify(r.goaways)} rst=${JSON.stringify(r.rsts)} first reaction=${r.firstReactionMs ?? '-'}ms ` +
        `extra=${JSON.stringify(r.extra)}`;
  return (
    `[h2 attack] ${o.kind}: ${o.death ? `MEMBER DOWN: ${o.death}` : 'member up'}; ` +
    `probe ${showLatency(o.latency)} slow(>=1s)=${o.slowProbes} failures=${JSON.stringify(o.probeFailures)}; ` +
    `RSS before=${mib(o.rssBefore)} peak=${mib(o.rssPeak)} after=${mib(o.rssAfter)} (${o.rssAfterMs ?? '-'}ms later); ` +
    `fresh=${typeof o.fresh === 'number' ? `${o.fresh.toFixed(1)}ms` : o.fresh}; ${wire}`
  );
}

/** The four checks every attack gets, on the outcome `get()` returns once the attack ran. */
function healthChecks(get: () => Outcome): void {
  test('the member stays up, and a fresh connection is served after the attack', () => {
    const o = get();
    assert.equal(o.death, undefined, `member down: ${o.death}`);
    assert.equal(typeof o.fresh, 'number', `fresh connection after the attack: ${o.fresh}`);
  });
  test(`every probe Range during the attack is answered OK within ${PROBE_BOUND_MS} ms`, () => {
    const o = get();
    assert.ok(o.latency.count > 0, 'no probe call was made');
    assert.deepEqual(o.probeFailures, [], `probe failures (${showLatency(o.latency)})`);
    assert.ok(
      o.latency.max < PROBE_BOUND_MS,
      `${o.slowProbes} probe answers took ${PROBE_BOUND_MS} ms or more: ${showLatency(o.latency)}`,
    );
  });
  test('RSS grows by less than 300 MiB during the attack', () => {
    const o = get();
    assert.ok(
      o.rssPeak - o.rssBefore < RSS_GROWTH_BOUND,
      `RSS before ${mib(o.rssBefore)}, peak ${mib(o.rssPeak)} (+${mib(o.rssPeak - o.rssBefore)})`,
    );
  });
  test(`RSS is back under baseline + 100 MiB within ${GIVEBACK_WAIT_MS / 1000} s of the attacker leaving`, () => {
    const o = get();
    assert.ok(o.rssAfter !== undefined && o.death === undefined, `member down: ${o.death}`);
    assert.ok(
      o.rssAfter <= o.rssBefore + RSS_GIVEBACK_BOUND,
      `RSS before ${mib(o.rssBefore)}, peak ${mib(o.rssPeak)}, ${o.rssAfterMs} ms after the attack ${mib(o.rssAfter)}`,
    );
  });
}

/** A suite for one attack: it runs once, then the health checks and `wire` look at its outcome. */
function attack(
  kind: AttackKind,
  title: string,
  wire?: (t: (name: string, fn: (o: Outcome, r: AttackReport) => void) => void) => void,
  ms?: number,
): void {
  if (only !== undefined && !only.includes(kind)) return;
  describe(`${kind}: ${title}`, () => {
    let o: Outcome | undefined;
    before(async () => {
      o = await underProbe(kind, ms);
    });
    const get = () => {
      assert.ok(o !== undefined, 'the attack did not run');
      return o;
    };
    healthChecks(get);
    wire?.((name, fn) =>
      test(name, () => {
        const x = get();
        assert.ok(x.report !== undefined, `the attacker failed: ${x.attackError}`);
        fn(x, x.report);
      }),
    );
  });
}

const calm = (r: AttackReport) => r.goaways.ENHANCE_YOUR_CALM ?? 0;
const wireSeen = (r: AttackReport) =>
  `goaway=${JSON.stringify(r.goaways)} rst=${JSON.stringify(r.rsts)} ended by server=${r.endedByServer}/${r.connections}`;

attack('continuation-flood', 'empty CONTINUATION frames after a HEADERS that never ends', (t) => {
  t('the server ends the connection with GOAWAY ENHANCE_YOUR_CALM', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack('hpack-bomb', '64 KiB header blocks of 1-byte references to a 3.9 KB dynamic table entry', (t) => {
  t('no bomb stream is served: the header list size limit refuses each (or ends the connection)', (_o, r) => {
    assert.ok(r.streams > 1, 'the attacker sent no bomb');
    // Stream 1 of each connection (the one that fills the table) may be answered; no bomb may be.
    assert.ok(r.okAnswers <= r.connections, `${r.okAnswers} calls answered OK; ${wireSeen(r)}`);
    assert.ok(r.refused + r.endedByServer + calm(r) > 0, `no refusal seen; ${wireSeen(r)}`);
  });
});

attack(
  'prefix15-respecting-flow-control',
  'Range calls with a 15-byte message, then DATA up to the granted windows',
);

attack(
  'prefix15-ignoring-flow-control',
  'a Put with a 15-byte message, then endless DATA ignoring flow control',
);

attack(
  'pipelined-1mb-ranges-no-read-big-window',
  '20k pipelined Range calls of a 1 MB value, 2 GiB windows granted, the client never reads',
);

attack(
  'pipelined-1mb-ranges-no-read-default-window',
  '20k pipelined Range calls of a 1 MB value, default windows, the client never reads',
);

attack('rapid-reset', 'HEADERS + RST_STREAM repeatedly (CVE-2023-44487)', (t) => {
  t('the server ends the connection with GOAWAY ENHANCE_YOUR_CALM', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack('idle-streams-settings-flood', '20k idle streams, then SETTINGS changing INITIAL_WINDOW_SIZE', (t) => {
  // etcd's default concurrency limit is 2^32-1: what refuses streams here is the member's bound on
  // what one connection may make it hold (or a lower --max-concurrent-streams).
  t(
    'streams past what the member will hold for one connection are refused (REFUSED_STREAM or PROTOCOL_ERROR)',
    (_o, r) => {
      assert.ok((r.rsts.REFUSED_STREAM ?? 0) + (r.rsts.PROTOCOL_ERROR ?? 0) > 0, wireSeen(r));
    },
  );
  t('the SETTINGS flood is answered with GOAWAY ENHANCE_YOUR_CALM', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack('ping-flood-no-read', 'PING flood from clients that never read', (t) => {
  t('GOAWAY ENHANCE_YOUR_CALM reaches the flooding client (read after the flood)', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack('settings-flood-no-read', 'SETTINGS flood from clients that never read', (t) => {
  t('GOAWAY ENHANCE_YOUR_CALM reaches the flooding client (read after the flood)', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack('empty-data-flood', 'empty DATA frames on an open stream', (t) => {
  t('the server ends the connection with GOAWAY ENHANCE_YOUR_CALM', (_o, r) => {
    assert.ok(calm(r) > 0, wireSeen(r));
  });
});

attack(
  'slowloris-preface',
  '2,000 connections that send half a preface or nothing',
  (t) => {
    t(
      `the server closes the connections without a whole preface within ${SLOWLORIS_MS / 1000} s`,
      (_o, r) => {
        assert.ok(r.connected > 0, 'no connection was made');
        assert.equal(
          r.openAtEnd,
          0,
          `${r.openAtEnd} of ${r.connected} connections still open after ${r.elapsedMs} ms`,
        );
      },
    );
  },
  SLOWLORIS_MS,
);

attack('connection-flood', '5,000 connections with a whole preface, held open', (t) => {
  t('the connection bound (below 5,000 by default) refuses connections past it', (_o, r) => {
    assert.ok(r.connected > 0, 'no connection was made');
    assert.ok(
      Number(r.extra.heldOpen) < r.connections,
      `all ${r.connections} connections held open (${r.handshaken} got SETTINGS); ${wireSeen(r)}`,
    );
  });
});

attack('window-update-flood', 'WINDOW_UPDATE frames of 1 on the connection and an open stream');

attack('priority-flood', 'PRIORITY frames on idle streams');

test('no member died during the attacks', () => {
  assert.deepEqual(deaths, []);
});
