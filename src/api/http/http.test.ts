import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpServer } from './http.ts';

function call(port: number, path: string, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

test("/health answers etcd 3.4's bodies: 200 {health:true} as text, 503 {health:false} as Go's http.Error; ?exclude reaches the check", async () => {
  let healthy = true;
  let excluded: string[] = [];
  const srv = createHttpServer(undefined, (ex) => {
    excluded = [...ex];
    return healthy ? Promise.resolve(true) : Promise.resolve(false);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  try {
    const ok = await call(port, '/health?exclude=NOSPACE');
    assert.deepEqual(
      [ok.status, ok.body, ok.headers['content-type']],
      [200, '{"health":"true"}', 'text/plain; charset=utf-8'],
    );
    assert.deepEqual(excluded, ['NOSPACE']);
    healthy = false;
    const bad = await call(port, '/health');
    assert.deepEqual(
      [bad.status, bad.body, bad.headers['x-content-type-options']],
      [503, '{"health":"false"}\n', 'nosniff'],
    );
    for (const path of ['/health', '/version']) {
      const r = await call(port, path, 'POST');
      assert.deepEqual([r.status, r.body, r.headers['allow']], [405, 'Method Not Allowed\n', 'GET'], path);
    }
    const v = await call(port, '/version');
    assert.deepEqual(JSON.parse(v.body), { etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    assert.equal((await call(port, '/livez')).status, 404, 'etcd 3.4 has no /livez');
  } finally {
    await new Promise((r) => srv.close(r));
  }
});
