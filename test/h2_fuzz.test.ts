// A frame fuzzer against the client port of a real member (startInProcess: the gRPC router over a
// member, in this process, so that any exception it throws is seen with its stack). For a bounded
// time, cases made from a seed (helpers/h2_fuzz_gen.ts: valid request traffic, then mutated) are sent
// each on its own connection, several at once. Asserted throughout:
//   - no uncaught exception or unhandled rejection (the member would have crashed);
//   - every second, a fresh probe connection is served (a gRPC Range answered OK within 2 s);
//   - the process's memory stays bounded (RSS growth under 300 MiB);
//   - what the server writes is well-formed HTTP/2: its first frame is SETTINGS, control frames have
//     their fixed sizes and stream 0, stream frames are on odd client streams, its header blocks
//     decode, and it never pushes.
//
// H2_FUZZ_SEED=<n> fixes the seed (else a random one, printed); H2_FUZZ_MS=<ms> the duration (default
// 20 s); H2_FUZZ_CASE=<n> or <a>-<b> runs exactly those cases. A failure names the seed and the cases
// to replay: a case's bytes are a function of (seed, case number) alone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { startInProcess, type InProcess } from './grpc_inprocess.ts';
import { fuzzCase, type FuzzCase } from './helpers/h2_fuzz_gen.ts';
import { mib, openSession, rangeOnce } from './helpers/h2_probe.ts';
import {
  ACK,
  CONTINUATION,
  DATA,
  FrameParser,
  GOAWAY,
  HEADERS,
  PING,
  PREFACE,
  PUSH_PROMISE,
  RST_STREAM,
  SETTINGS,
  WINDOW_UPDATE,
  type Frame,
} from './helpers/h2_wire.ts';

const SEED = process.env.H2_FUZZ_SEED !== undefined ? Number(process.env.H2_FUZZ_SEED) : randomInt(2 ** 31);
const FUZZ_MS = Number(process.env.H2_FUZZ_MS ?? 20_000);
const CASES = parseCases(process.env.H2_FUZZ_CASE);
/** Cases in flight at once. */
const PARALLEL = 8;
/** A case's connection is left once the server has been quiet this long (or after CASE_MS). */
const QUIET_MS = 30;
const CASE_MS = 400;
const PROBE_EVERY_MS = 1000;
const RSS_GROWTH_BOUND = 300 * 1024 * 1024;
const PROBE_KEY = 'fuzz-probe';

function parseCases(v: string | undefined): [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) throw new Error(`H2_FUZZ_CASE must be <n> or <a>-<b>, got ${v}`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

const replay = (cases: string) =>
  `replay: H2_FUZZ_SEED=${SEED} H2_FUZZ_CASE=${cases} node scripts/run-tests.mjs h2_fuzz`;

let member: InProcess;
let port: number;
/** Exceptions nobody caught while the fuzzer ran, with the cases in flight. */
const uncaught: string[] = [];
const inFlight = new Set<number>();
/** The cases in flight when the first exception came (one of them threw it). */
let culprits = '';
const onUncaught = (err: unknown) => {
  const cases = [...inFlight].sort((a, b) => a - b);
  if (uncaught.length === 0 && cases.length > 0) culprits = `${cases[0]}-${cases[cases.length - 1]}`;
  uncaught.push(`${(err as Error)?.stack ?? String(err)} (cases in flight: ${cases.join(',')})`);
};

before(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  member = await startInProcess();
  port = Number(member.endpoint.split(':')[1]);
  await member.client.put(PROBE_KEY, 'probe-value');
});

after(async () => {
  await member.close();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

/** What is wrong with the server's bytes for `c` (empty: nothing). */
function checkOutput(c: FuzzCase, out: Buffer): string[] {
  const sent = Buffer.concat(c.writes);
  const h2 = sent.length >= PREFACE.length && sent.subarray(0, PREFACE.length).equals(PREFACE);
  if (!h2) {
    // Not an HTTP/2 preface: the port's HTTP/1.1 server (or nobody, if the preface is incomplete).
    const text = out.toString('latin1');
    return out.length === 0 || text.startsWith('HTTP/1.1 ')
      ? []
      : [`not HTTP/2, answered ${JSON.stringify(text.slice(0, 40))}`];
  }
  const bad: string[] = [];
  const frames: Frame[] = [];
  const parser = new FrameParser((f) => frames.push(f));
  try {
    parser.push(out);
  } catch (e) {
    return [`server output does not parse: ${(e as Error).message}`];
  }
  frames.forEach((f, i) => {
    const at = `frame ${i} (type ${f.type}, flags 0x${f.flags.toString(16)}, stream ${f.id}, ${f.payload.length} bytes)`;
    if (i === 0 && (f.type !== SETTINGS || (f.flags & ACK) !== 0))
      bad.push(`${at}: the first frame is not SETTINGS`);
    switch (f.type) {
      case SETTINGS:
        if (f.id !== 0 || f.payload.length % 6 !== 0 || (f.flags & ACK && f.payload.length > 0))
          bad.push(`${at}: bad SETTINGS`);
        break;
      case PING:
        if (f.id !== 0 || f.payload.length !== 8) bad.push(`${at}: bad PING`);
        break;
      case GOAWAY:
        if (f.id !== 0 || f.payload.length < 8) bad.push(`${at}: bad GOAWAY`);
        break;
      case RST_STREAM:
        if (f.id === 0 || f.payload.length !== 4) bad.push(`${at}: bad RST_STREAM`);
        break;
      case WINDOW_UPDATE:
        if (f.payload.length !== 4 || (f.payload.readUInt32BE(0) & 0x7fffffff) === 0)
          bad.push(`${at}: bad WINDOW_UPDATE`);
        break;
      case DATA:
      case HEADERS:
      case CONTINUATION:
        if (f.id === 0 || f.id % 2 === 0) bad.push(`${at}: on a stream the client cannot have opened`);
        break;
      case PUSH_PROMISE:
        bad.push(`${at}: the server pushed`);
        break;
      default:
        bad.push(`${at}: a frame type the server has no reason to send`);
    }
    // Header blocks the server wrote must decode (FrameParser decodes; a failed block has no fields).
    if ((f.type === HEADERS || f.type === CONTINUATION) && f.fields !== undefined && f.fields.length === 0) {
      bad.push(`${at}: a header block that does not decode`);
    }
  });
  return bad;
}

/** Sends case `n` on its own connection; resolves with what was wrong with the server's answer. */
function runCase(n: number): Promise<string[]> {
  const c = fuzzCase(SEED, n);
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(quiet);
      clearTimeout(bound);
      sock.destroy();
      resolve(checkOutput(c, Buffer.concat(got)).map((b) => `case ${n} (${c.what}): ${b}`));
    };
    const bound = setTimeout(done, CASE_MS);
    const rearm = () => {
      clearTimeout(quiet);
      quiet = setTimeout(done, QUIET_MS);
    };
    sock.on('data', (d: Buffer) => {
      got.push(d);
      rearm();
    });
    sock.on('error', () => {});
    sock.on('close', done);
    sock.on('connect', () => {
      for (const w of c.writes) sock.write(w);
      rearm();
    });
  });
}

/** A fresh connection's Range: undefined if served, else what went wrong. */
async function probe(): Promise<string | undefined> {
  try {
    const s = await openSession(port, 2000);
    try {
      await rangeOnce(s, PROBE_KEY, 2000);
    } finally {
      s.destroy();
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

test(`fuzz: mutated HTTP/2 traffic for ${FUZZ_MS / 1000} s (seed ${SEED}): no crash, a fresh connection always served, memory bounded, well-formed answers`, async (t) => {
  t.diagnostic(`seed ${SEED}`);
  console.log(`[h2 fuzz] seed ${SEED}${CASES ? ` cases ${CASES[0]}-${CASES[1]}` : ''}`);
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const failures: string[] = [];
  const deadline = Date.now() + FUZZ_MS;
  let next = CASES?.[0] ?? 0;
  const last = CASES?.[1] ?? Infinity;
  let ran = 0;
  const stop = () =>
    failures.length > 0 ||
    uncaught.length > 0 ||
    next > last ||
    (CASES === undefined && Date.now() >= deadline);

  const worker = async () => {
    while (!stop()) {
      const n = next++;
      inFlight.add(n);
      const bad = await runCase(n);
      inFlight.delete(n);
      ran++;
      failures.push(...bad);
    }
  };
  const checker = async () => {
    while (!stop()) {
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      const cases = `${Math.max(0, next - 50)}-${next}`;
      const p = await probe();
      if (p !== undefined)
        failures.push(`a fresh connection was not served after cases up to ${next}: ${p} (${replay(cases)})`);
      if (rssPeak - rssBefore > RSS_GROWTH_BOUND) {
        failures.push(
          `RSS grew from ${mib(rssBefore)} to ${mib(rssPeak)} by case ${next} (${replay(cases)})`,
        );
      }
    }
  };
  await Promise.all([...Array.from({ length: PARALLEL }, worker), checker()]);
  // The last word: the member still serves, after everything.
  const p = await probe();
  if (p !== undefined) failures.push(`a fresh connection was not served after the run: ${p}`);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const summary = `${ran} cases (0..${next - 1}) in ${FUZZ_MS / 1000} s, RSS ${mib(rssBefore)} -> peak ${mib(rssPeak)}`;
  console.log(`[h2 fuzz] seed ${SEED}: ${summary}`);
  assert.deepEqual(uncaught.slice(0, 3), [], `uncaught exceptions (seed ${SEED}); ${replay(culprits)}`);
  assert.deepEqual(
    failures.slice(0, 10),
    [],
    `seed ${SEED}, ${summary}; ${replay(failures[0]?.match(/^case (\d+)/)?.[1] ?? '<see message>')}`,
  );
});
