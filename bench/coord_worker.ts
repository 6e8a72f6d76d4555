// A load process for the watch and lease scenarios, over raw HTTP/2 gRPC with hand-encoded requests.
// Watch responses are not decoded: the worker walks the top-level protobuf fields and counts the
// `events` entries, so counting a delivery costs a few byte reads. Protocol with the parent:
// job -> 'ready' (watchers created / leases granted) -> 'go' -> progress every 500 ms -> result.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { RawGrpc, encodePut } from '../src/client/raw_grpc.ts';

export type CoordJob =
  | {
      kind: 'watch';
      endpoint: string;
      watchers: number;
      connections: number;
      streams: number;
      prefix: string;
    }
  | {
      kind: 'write';
      endpoint: string;
      concurrency: number;
      prefix: string;
      keySpace: number;
      valueSize: number;
    }
  | { kind: 'keepalive'; endpoint: string; streams: number; connections: number };

export type CoordMsg =
  | { type: 'ready' }
  | { type: 'progress'; count: number }
  | { type: 'result'; count: number; errors: number; firstError: string; latenciesUs: number[] };

const send = (m: CoordMsg) => new Promise<void>((r) => process.send!(m, () => r()));

function frame(msg: Uint8Array): Buffer {
  const f = Buffer.allocUnsafe(5 + msg.length);
  f[0] = 0;
  f.writeUInt32BE(msg.length, 1);
  f.set(msg, 5);
  return f;
}

function lenField(field: number, b: Uint8Array): Buffer {
  const out: number[] = [(field << 3) | 2];
  let v = b.length;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.concat([Buffer.from(out), b]);
}

/** Calls `onMessage(buf, start, end)` for each gRPC message in a stream's data. */
function messages(s: ClientHttp2Stream, onMessage: (b: Buffer, start: number, end: number) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= 5) {
      const len = buf.readUInt32BE(off + 1);
      if (buf.length - off < 5 + len) break;
      onMessage(buf, off + 5, off + 5 + len);
      off += 5 + len;
    }
    buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
  });
}

function openStream(session: ClientHttp2Session, path: string): ClientHttp2Stream {
  return session.request({
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: path,
    [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
    te: 'trailers',
  });
}

interface Counter {
  count: number;
  errors: number;
  firstError: string;
  latenciesUs: number[];
}

/** Opens the watchers; resolves when every `created` has arrived. Counts events into `c`. */
async function setupWatch(job: Extract<CoordJob, { kind: 'watch' }>, c: Counter) {
  const sessions = Array.from({ length: job.connections }, () => connect(`http://${job.endpoint}`));
  const end = Buffer.from(job.prefix);
  end[end.length - 1]!++;
  const create = frame(lenField(1, Buffer.concat([lenField(1, Buffer.from(job.prefix)), lenField(2, end)])));
  let created = 0;
  let allCreated!: () => void;
  const ready = new Promise<void>((r) => (allCreated = r));
  const streams: ClientHttp2Stream[] = [];
  for (let i = 0; i < job.streams; i++) {
    const s = openStream(sessions[i % sessions.length]!, '/etcdserverpb.Watch/Watch');
    s.on('error', (e: Error) => {
      c.errors++;
      c.firstError ||= String(e);
    });
    messages(s, (b, i0, e) => {
      let i = i0;
      while (i < e) {
        const tag = b[i++]!;
        const wt = tag & 7;
        if (wt === 0) {
          while (b[i++]! & 0x80);
          if (tag === 0x18 && b[i - 1] === 1 && ++created === job.watchers) allCreated();
        } else if (wt === 2) {
          let len = 0;
          let shift = 0;
          for (;;) {
            const x = b[i++]!;
            len += (x & 0x7f) * 2 ** shift;
            shift += 7;
            if (x < 0x80) break;
          }
          if (tag === 0x5a) c.count++;
          i += len;
        } else break;
      }
    });
    streams.push(s);
  }
  for (let w = 0; w < job.watchers; w++) streams[w % streams.length]!.write(create);
  await ready;
  return () => {
    for (const s of streams) s.close();
    for (const s of sessions) s.close();
  };
}

/** Closed-loop puts until `stopped()`. */
async function runWriter(job: Extract<CoordJob, { kind: 'write' }>, c: Counter, stopped: () => boolean) {
  const conns = [new RawGrpc(job.endpoint), new RawGrpc(job.endpoint)];
  const value = Buffer.alloc(job.valueSize, 0x62);
  let n = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, loop) => {
      const conn = conns[loop % conns.length]!;
      while (!stopped()) {
        const key = Buffer.from(`${job.prefix}${String(n++ % job.keySpace).padStart(6, '0')}`);
        const r = await conn.unary('/etcdserverpb.KV/Put', encodePut(key, value));
        if (r.code !== 0) {
          c.errors++;
          c.firstError ||= `${r.code} ${r.message}`;
        } else c.count++;
      }
    }),
  );
  for (const x of conns) x.close();
}

/** Grants one 60 s lease per stream (varint ID bytes kept as they are); returns the keep-alive runner. */
async function setupKeepAlive(job: Extract<CoordJob, { kind: 'keepalive' }>, c: Counter) {
  const raw = new RawGrpc(job.endpoint);
  const requests: Buffer[] = [];
  for (let i = 0; i < job.streams; i++) {
    const r = await raw.unary('/etcdserverpb.Lease/LeaseGrant', Buffer.from([0x08, 60]));
    const p = r.payload;
    let k = 0;
    let id: Buffer | undefined;
    while (k < p.length && !id) {
      const tag = p[k++]!;
      if (tag === 0x0a) {
        let len = 0;
        let shift = 0;
        for (;;) {
          const x = p[k++]!;
          len += (x & 0x7f) * 2 ** shift;
          shift += 7;
          if (x < 0x80) break;
        }
        k += len;
      } else if (tag === 0x10) {
        const s = k;
        while (p[k++]! & 0x80);
        id = p.subarray(s, k);
      } else throw new Error(`LeaseGrant failed: ${r.code} ${r.message}`);
    }
    if (!id) throw new Error(`LeaseGrant failed: ${r.code} ${r.message}`);
    requests.push(frame(Buffer.concat([Buffer.from([0x08]), id])));
  }
  raw.close();
  const sessions = Array.from({ length: job.connections }, () => connect(`http://${job.endpoint}`));
  return (stopped: () => boolean) =>
    Promise.all(
      requests.map(
        (req, i) =>
          new Promise<void>((resolve) => {
            const s = openStream(sessions[i % sessions.length]!, '/etcdserverpb.Lease/LeaseKeepAlive');
            s.on('error', (e: Error) => {
              c.errors++;
              c.firstError ||= String(e);
              resolve();
            });
            let t0 = performance.now();
            messages(s, () => {
              c.count++;
              c.latenciesUs.push((performance.now() - t0) * 1000);
              if (stopped()) {
                s.close();
                return resolve();
              }
              t0 = performance.now();
              s.write(req);
            });
            s.write(req);
          }),
      ),
    ).then(() => {
      for (const s of sessions) s.close();
    });
}

async function run(job: CoordJob): Promise<void> {
  const c: Counter = { count: 0, errors: 0, firstError: '', latenciesUs: [] };
  let go!: (ms: number) => void;
  const started = new Promise<number>((r) => (go = r));
  process.on('message', (m: { type: string; durationMs: number }) => {
    if (m.type === 'go') go(m.durationMs);
  });
  let closeWatch: (() => void) | undefined;
  let keepAlive: ((stopped: () => boolean) => Promise<void>) | undefined;
  if (job.kind === 'watch') closeWatch = await setupWatch(job, c);
  if (job.kind === 'keepalive') keepAlive = await setupKeepAlive(job, c);
  await send({ type: 'ready' });
  const durationMs = await started;
  const until = performance.now() + durationMs;
  const stopped = () => performance.now() >= until;
  const tick = setInterval(() => void send({ type: 'progress', count: c.count }), 500);
  if (job.kind === 'write') await runWriter(job, c, stopped);
  else if (keepAlive) await keepAlive(stopped);
  else await new Promise((r) => setTimeout(r, durationMs));
  clearInterval(tick);
  const result = { type: 'result' as const, ...c };
  closeWatch?.();
  await send(result);
  process.exit(0);
}

process.once('message', (job: CoordJob) => {
  run(job).catch(async (err: unknown) => {
    await send({ type: 'result', count: 0, errors: 1, firstError: String(err), latenciesUs: [] });
    process.exit(1);
  });
});
