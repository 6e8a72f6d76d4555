// Fail-stop is decided by an error's class, never by its message (DESIGN.md decision 5): a broken
// invariant while applying stops the member, even when its message starts with "mvcc: " as a store's
// request errors do. The failpoint throws such a plain Error between writing a revision to the
// backend and indexing it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './helpers/client.ts';
import { startServer, type ServerHandle } from './helpers/procs.ts';

const handles: ServerHandle[] = [];
after(async () => {
  for (const h of handles) await h.destroy();
});

function exitOf(h: ServerHandle, timeoutMs: number): Promise<number | string> {
  const p = h.proc;
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode ?? p.signalCode!);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
    p.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve(code ?? signal!);
    });
  });
}

test(
  'a broken invariant during apply logs at fatal and exits 1; the put gets no OK',
  { timeout: 60_000 },
  async () => {
    const h = await startServer('tetcd', { env: { TETCD_FAILPOINTS: 'mvccPutBeforeIndex=panic' } });
    handles.push(h);
    const c = new Client(h.endpoint);
    // The member leads before the put is sent, so the put reaches the log (a put refused for want of a
    // leader would never apply, and nothing would stop the member).
    for (let i = 0; i < 100; i++) {
      const st = await c.status().catch(() => undefined);
      if (st && String(st['leader']) !== '0') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    let answer: string;
    try {
      await c.call('etcdserverpb.KV', 'Put', { key: Buffer.from('k'), value: Buffer.from('v') }, 5000);
      answer = 'OK';
    } catch (err) {
      answer = `error: ${(err as Error).message}`;
    } finally {
      c.close();
    }
    assert.notEqual(answer, 'OK', 'the put must not be acknowledged');
    const code = await exitOf(h, 10_000).catch(
      (e: Error) => `${e.message}; the put got ${answer}; stderr:\n${h.stderr().slice(-3000)}`,
    );
    assert.equal(code, 1, 'the member must exit with code 1');
    const fatal = h
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level?: string; err?: { message?: string; type?: string } })
      .filter((o) => o.level === 'fatal');
    assert.equal(fatal.length, 1, `one fatal line expected in:\n${h.stderr()}`);
    assert.match(fatal[0]!.err?.message ?? '', /^mvcc: failpoint mvccPutBeforeIndex: /);
    assert.equal(fatal[0]!.err?.type, 'Error', 'a plain Error, not a request error');

    // Nothing half-applied reached the store: without the failpoint the committed put applies on replay.
    const again = await h.restart({});
    handles.push(again);
    const c2 = new Client(again.endpoint);
    try {
      const r = await c2.call('etcdserverpb.KV', 'Range', { key: Buffer.from('k') }, 5000);
      assert.equal(r['kvs'].length, 1);
      assert.equal(Buffer.from(r['kvs'][0].value).toString(), 'v');
      assert.equal(Number(r['kvs'][0].modRevision), 2);
    } finally {
      c2.close();
    }
  },
);
