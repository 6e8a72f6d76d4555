// Malformed requests, differentially: etcd 3.4 and tetcd get the same raw bytes on every method of
// every service etcd 3.4 serves, and each call must end the same way on both (grpc-status and the
// percent-decoded grpc-message, or staying open). The cases are in helpers/malformed_cases.ts; every
// payload sent either fails to decode in etcd or is harmless to run there.
//
// MALFORMED_REPORT=<file> writes every answer of both servers there as JSON.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { haveEtcd, startServer, type ServerHandle } from './helpers/procs.ts';
import {
  describeOutcome,
  grpcFrame,
  grpcHeaderBlock,
  openSession,
  rawCall,
  rawConnection,
  type CallOutcome,
  type RawConnOutcome,
} from './helpers/grpc_raw.ts';
import { h2Frame } from './helpers/h2.ts';
import { FRAMING_CASES, METHODS, payloadCases, type MethodSpec } from './helpers/malformed_cases.ts';
import { messageType } from '../src/proto/index.ts';
import {
  checkHealthCheckRequest,
  streamDecodeStatus,
  unaryDecodeStatus,
  wireCheck,
} from '../src/proto/wire_check.ts';

/**
 * Expected differences: methods tetcd does not serve yet. Their calls are made and reported, not
 * compared. Everything else must match etcd.
 */
const NOT_YET_SERVED = [
  '/etcdserverpb.Auth/', // the whole service
  '/etcdserverpb.Maintenance/Defragment',
  '/etcdserverpb.Maintenance/Hash',
];
const compared = (path: string) =>
  !NOT_YET_SERVED.some((p) => (p.endsWith('/') ? path.startsWith(p) : path === p));

/**
 * Deliberate departures. etcd 3.4 registers no decompressor and refuses any grpc-encoding; tetcd
 * decodes gzip (grpc-go and grpc-java clients may compress), so these cases get tetcd's own answer:
 * a bad gzip body is INTERNAL from the decompressor, and an uncompressed message that does not
 * decode gets the decoding error etcd gives the same bytes without the header.
 */
const GZIP_CASES = new Set([
  'gzip flag with bytes that are not gzip',
  'uncompressed message, grpc-encoding gzip',
]);

/**
 * DATA on a stream the client never opened is a connection error PROTOCOL_ERROR (RFC 9113 5.1, and
 * h2spec's case); etcd 3.4 ignores it. DATA after the client's END_STREAM: STREAM_CLOSED, as etcd.
 */
const DATA_FRAME_ANSWERS = {
  'DATA on an idle stream': 'goaway=1 rst=[] closed=true',
  'DATA on an idle stream while another is open': 'goaway=1 rst=[] closed=true',
  'DATA after the client ended the stream': 'goaway=- rst=[[1,5]] closed=false',
};

/** How long a call may take before it counts as left open (etcd leaves some open on purpose). */
const BOUND_MS = 2000;
const CONCURRENCY = 16;

interface Probe {
  key: string;
  path: string;
  group: 'payload' | 'framing';
  caseName: string;
  body: Buffer;
  headers?: Record<string, string>;
  spec: MethodSpec;
  /** For payload cases: the request message. */
  message?: Buffer;
  decodes?: true;
}

function probes(): Probe[] {
  const out = new Map<string, Probe>();
  for (const spec of METHODS) {
    for (const pc of payloadCases(spec)) {
      const key = `${spec.path} | ${pc.name}`;
      out.set(key, {
        key,
        path: spec.path,
        group: 'payload',
        caseName: pc.name,
        body: grpcFrame(pc.message),
        spec,
        message: pc.message,
        ...(pc.decodes ? { decodes: pc.decodes } : {}),
      });
    }
    for (const fc of FRAMING_CASES) {
      if (fc.decodes && !spec.emptyHarmless) continue;
      const path = fc.path ? fc.path(spec) : spec.path;
      const key = `${path} | ${fc.name}`; // path-changing cases are sent once per service
      out.set(key, {
        key,
        path,
        group: 'framing',
        caseName: fc.name,
        body: fc.body,
        spec,
        ...(fc.headers ? { headers: fc.headers } : {}),
      });
    }
  }
  return [...out.values()];
}

const show = (o: CallOutcome) =>
  describeOutcome(o) + (o.end === 'status' && o.code === 0 ? ` +${o.messages}` : '');

async function collect(session: ClientHttp2Session, list: Probe[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const p = list[next++]!;
      const o = await rawCall(session, p.path, p.body, {
        boundMs: BOUND_MS,
        ...(p.headers ? { headers: p.headers } : {}),
      });
      out.set(p.key, show(o));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return out;
}

async function waitServing(session: ClientHttp2Session): Promise<void> {
  const until = Date.now() + 15_000;
  for (;;) {
    const o = await rawCall(session, '/etcdserverpb.Maintenance/Status', grpcFrame(Buffer.alloc(0)), {
      boundMs: 1000,
    });
    if (o.end === 'status' && o.code === 0) return;
    if (Date.now() > until) throw new Error(`server not serving: ${describeOutcome(o)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the server does with DATA frames it should not get; only frame-level facts are compared. */
async function idleStreamProbes(port: number): Promise<Record<string, string>> {
  const hb = grpcHeaderBlock('/etcdserverpb.KV/Range', `127.0.0.1:${port}`);
  const empty = grpcFrame(Buffer.alloc(0));
  const summary = (o: RawConnOutcome) =>
    `goaway=${o.goaway ?? '-'} rst=${JSON.stringify([...o.rst])} closed=${o.closed}`;
  const [idle, idleAfterOpen, afterEnd] = await Promise.all([
    // DATA on stream 1, never opened
    rawConnection(port, [h2Frame(0, 1, 1, empty)], 1500),
    // stream 1 open (HEADERS without END_STREAM), DATA on stream 3, never opened
    rawConnection(port, [h2Frame(1, 4, 1, hb), h2Frame(0, 1, 3, empty)], 1500),
    // stream 1 half-closed by the client (HEADERS with END_STREAM), then DATA on it
    rawConnection(port, [h2Frame(1, 5, 1, hb), h2Frame(0, 1, 1, empty)], 1500),
  ]);
  return {
    'DATA on an idle stream': summary(idle),
    'DATA on an idle stream while another is open': summary(idleAfterOpen),
    'DATA after the client ended the stream': summary(afterEnd),
  };
}

describe('malformed requests: tetcd ends every call as etcd 3.4 does', { skip: !haveEtcd() }, () => {
  let etcd: ServerHandle;
  let tetcd: ServerHandle;
  const sessions: ClientHttp2Session[] = [];
  const list = probes();
  let want = new Map<string, string>();
  let got = new Map<string, string>();
  let wantRaw: Record<string, string> = {};
  let gotRaw: Record<string, string> = {};

  before(async () => {
    [etcd, tetcd] = await Promise.all([startServer('etcd'), startServer('tetcd')]);
    const [se, st] = await Promise.all([openSession(etcd.port), openSession(tetcd.port)]);
    sessions.push(se, st);
    await Promise.all([waitServing(se), waitServing(st)]);
    [want, got, wantRaw, gotRaw] = await Promise.all([
      collect(se, list),
      collect(st, list),
      idleStreamProbes(etcd.port),
      idleStreamProbes(tetcd.port),
    ]);
    if (process.env['MALFORMED_REPORT']) {
      const rows = list.map((p) => ({
        path: p.path,
        group: p.group,
        case: p.caseName,
        etcd: want.get(p.key),
        tetcd: got.get(p.key),
        compared: compared(p.path),
      }));
      writeFileSync(
        process.env['MALFORMED_REPORT'],
        JSON.stringify({ rows, raw: { etcd: wantRaw, tetcd: gotRaw } }, null, 1),
      );
    }
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await Promise.all([etcd?.destroy(), tetcd?.destroy()]);
  });

  test("wire_check predicts etcd's status for every payload", () => {
    const wrong: string[] = [];
    for (const p of list) {
      if (p.group !== 'payload') continue;
      const isHealth = p.spec.request.startsWith('grpc.health.');
      const err = isHealth
        ? checkHealthCheckRequest(p.message!)
        : wireCheck(messageType(p.spec.request), p.message!);
      const etcdSays = want.get(p.key)!;
      if (err === undefined) {
        // decoded: whatever the method answers, it is not a decoding error
        if (/^13 "grpc: (error unmarshalling|failed to unmarshal)/.test(etcdSays))
          wrong.push(`${p.key}: etcd ${etcdSays}, wire_check: decodes`);
        continue;
      }
      const st = p.spec.kind === 'unary' ? unaryDecodeStatus(err) : streamDecodeStatus(err);
      const predicted = `${st.code} ${JSON.stringify(st.message)}`;
      if (predicted !== etcdSays) wrong.push(`${p.key}: etcd ${etcdSays}, wire_check ${predicted}`);
    }
    assert.deepEqual(wrong, []);
  });

  for (const group of ['payload', 'framing'] as const) {
    test(`${group} cases: same status and message from both`, () => {
      const diffs: string[] = [];
      for (const p of list) {
        if (p.group !== group || !compared(p.path)) continue;
        let w = want.get(p.key)!;
        const g = got.get(p.key)!;
        if (GZIP_CASES.has(p.caseName)) {
          assert.match(w, /^12 "grpc: Decompressor is not installed for grpc-encoding/, p.key);
          const decodeErr = p.caseName.startsWith('gzip flag')
            ? undefined
            : p.spec.request.startsWith('grpc.health.')
              ? checkHealthCheckRequest(Buffer.from([0x00, 0x00]))
              : wireCheck(messageType(p.spec.request), Buffer.from([0x00, 0x00]));
          if (decodeErr === undefined) {
            if (!/^13 "grpc: failed to decompress the received message /.test(g))
              diffs.push(`${p.key}: ${g}`);
            continue;
          }
          const st = p.spec.kind === 'unary' ? unaryDecodeStatus(decodeErr) : streamDecodeStatus(decodeErr);
          w = `${st.code} ${JSON.stringify(st.message)}`;
        }
        if (w !== g) diffs.push(`${p.key}\n    etcd:  ${w}\n    tetcd: ${g}`);
      }
      assert.ok(diffs.length === 0, `${diffs.length} calls differ:\n${diffs.join('\n')}`);
    });
  }

  test('DATA frames on streams that are not open: STREAM_CLOSED as etcd, PROTOCOL_ERROR on idle streams', () => {
    assert.equal(
      wantRaw['DATA after the client ended the stream'],
      DATA_FRAME_ANSWERS['DATA after the client ended the stream'],
    );
    assert.match(wantRaw['DATA on an idle stream']!, /^goaway=- rst=\[\] /, 'etcd ignores it');
    assert.deepEqual(gotRaw, DATA_FRAME_ANSWERS);
  });

  test('every method etcd 3.4 serves was probed, and a pass is not vacuous', () => {
    assert.equal(new Set(METHODS.map((m) => m.path)).size, 48);
    // etcd refused most payloads as malformed and ran the decodable ones
    const refused = list.filter((p) => /^13 "grpc: /.test(want.get(p.key) ?? ''));
    assert.ok(refused.length > list.length / 2, `only ${refused.length} of ${list.length} refused`);
    const ok = list.filter((p) => p.decodes && want.get(p.key)?.startsWith('0 '));
    assert.ok(ok.length > 10, 'decodable payloads ran');
  });
});
