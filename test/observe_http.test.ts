// /metrics, /debug/vars and /debug/pprof/ as served by api/http/observe.ts, on a plain node:http server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { observeRoutes } from '../src/api/http/observe.ts';

let withPprof: Server;
let without: Server;

function serve(pprof: boolean): Promise<Server> {
  const route = observeRoutes({
    pprof,
    raftStatus: () => ({ id: 'abc', term: 3, raftState: 'StateLeader' }),
  });
  const srv = createServer((req, res) => {
    if (!route(req, res)) {
      res.writeHead(404);
      res.end('not mine');
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

const base = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;

before(async () => {
  withPprof = await serve(true);
  without = await serve(false);
});
after(() => {
  withPprof.close();
  without.close();
});

test('/metrics answers the Prometheus text format with etcd families and process ones', async () => {
  const r = await fetch(`${base(without)}/metrics`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const body = await r.text();
  assert.match(body, /^# TYPE etcd_server_has_leader gauge$/m);
  assert.match(body, /^# TYPE etcd_disk_wal_fsync_duration_seconds histogram$/m);
  assert.match(body, /^process_resident_memory_bytes \d+/m);
  assert.match(body, /^promhttp_metric_handler_requests_total\{code="200"\} \d+/m);
});

test('/debug/vars holds the command line, the fd limit, memory and the raft status', async () => {
  const r = await fetch(`${base(without)}/debug/vars`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  const v = (await r.json()) as Record<string, unknown>;
  assert.deepEqual(v['cmdline'], process.argv);
  assert.equal(typeof v['file_descriptor_limit'], 'number');
  assert.ok((v['memstats'] as { rss: number }).rss > 0);
  assert.deepEqual(v['raft.status'], { id: 'abc', term: 3, raftState: 'StateLeader' });
});

test('/debug/pprof/ is served only with --enable-pprof', async () => {
  const off = await fetch(`${base(without)}/debug/pprof/heap`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(await off.text(), 'not mine');
  const idx = await fetch(`${base(withPprof)}/debug/pprof/`, { signal: AbortSignal.timeout(10_000) });
  assert.match(await idx.text(), /profile\?seconds=N/);
});

test('a CPU profile of 1 s is a V8 profile; bad durations are refused', async () => {
  for (const bad of ['0', 'x', '301', '-1']) {
    const r = await fetch(`${base(withPprof)}/debug/pprof/profile?seconds=${bad}`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(r.status, 400, `seconds=${bad}`);
  }
  const r = await fetch(`${base(withPprof)}/debug/pprof/profile?seconds=1`, {
    signal: AbortSignal.timeout(20_000),
  });
  assert.equal(r.status, 200);
  const p = (await r.json()) as { nodes: unknown[]; startTime: number; endTime: number };
  assert.ok(p.nodes.length > 0);
  assert.ok(p.endTime - p.startTime >= 900_000, 'about one second, in microseconds');
});

test('a heap snapshot streams as the JSON DevTools opens', async () => {
  const r = await fetch(`${base(withPprof)}/debug/pprof/heap`, { signal: AbortSignal.timeout(60_000) });
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.ok(text.startsWith('{"snapshot":'), text.slice(0, 40));
  const snap = JSON.parse(text) as { snapshot: { node_count: number } };
  assert.ok(snap.snapshot.node_count > 1000);
});
