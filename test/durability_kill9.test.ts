// kill -9 at a random moment during a stream of acknowledged puts: after a restart every acknowledged
// put is there and the revision did not go back. Also crash exactly between WAL fsync and apply.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './helpers/client.ts';
import { toNumber } from '../src/proto/index.ts';
import { startServer, type ServerHandle } from './helpers/procs.ts';

/** Small seeded PRNG so a failing run can be replayed (the seed is printed). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Acked {
  key: string;
  value: string;
  rev: number;
}

/** Writers put distinct keys until the server dies; returns what was acknowledged. */
async function writeUntilDeath(endpoint: string, round: number, writers: number): Promise<Acked[]> {
  const acked: Acked[] = [];
  const clients = Array.from({ length: writers }, () => new Client(endpoint));
  await Promise.all(
    clients.map(async (c, w) => {
      for (let i = 0; i < 100_000; i++) {
        const key = `r${round}/w${w}/k${i}`;
        const value = `v-${round}-${w}-${i}`;
        try {
          const r = await c.put(key, value, {});
          acked.push({ key, value, rev: toNumber(r.header.revision) });
        } catch {
          return; // the server is gone
        }
      }
    }),
  );
  for (const c of clients) c.close();
  return acked;
}

async function verify(h: ServerHandle, acked: Acked[], minRev: number): Promise<number> {
  const c = new Client(h.endpoint);
  try {
    const all = await c.range('r', { rangeEnd: Buffer.from('s') });
    const have = new Map<string, string>(
      all.kvs.map((kv: { key: Uint8Array; value: Uint8Array }) => [
        Buffer.from(kv.key).toString(),
        Buffer.from(kv.value).toString(),
      ]),
    );
    for (const a of acked)
      assert.equal(have.get(a.key), a.value, `acknowledged put ${a.key} (rev ${a.rev}) lost`);
    const rev = toNumber(all.header.revision);
    assert.ok(rev >= minRev, `revision went back: ${rev} < ${minRev}`);
    return rev;
  } finally {
    c.close();
  }
}

describe('durability across kill -9', () => {
  let h: ServerHandle | undefined;
  after(async () => {
    await h?.destroy();
  });

  test('every acknowledged put survives kill -9 at a random moment, three times over', async () => {
    const seed = Number(process.env['TETCD_SEED'] ?? Date.now() % 1_000_000);
    console.log(`kill9 seed: ${seed} (replay with TETCD_SEED=${seed})`);
    const rand = prng(seed);
    h = await startServer('tetcd');
    const all: Acked[] = [];
    let maxRev = 0;
    for (let round = 0; round < 3; round++) {
      const delay = 150 + Math.floor(rand() * 600);
      const writing = writeUntilDeath(h.endpoint, round, 4);
      await new Promise((r) => setTimeout(r, delay));
      await h.kill9();
      const acked = await writing;
      assert.ok(acked.length > 0, 'no put was acknowledged before the kill');
      all.push(...acked);
      maxRev = Math.max(maxRev, ...acked.map((a) => a.rev));
      h = await h.restart();
      maxRev = await verify(h, all, maxRev);
    }
  });

  test('a crash right after the WAL fsync, before apply, loses nothing acknowledged', async () => {
    // The 40th WAL save kills the process between making the batch durable and applying it.
    const crashing = await startServer('tetcd', { env: { TETCD_FAILPOINTS: 'walAfterSave=crash@40' } });
    let restarted: ServerHandle | undefined;
    try {
      const acked = await writeUntilDeath(crashing.endpoint, 9, 2);
      await new Promise((r) =>
        crashing.proc.exitCode !== null || crashing.proc.signalCode !== null
          ? r(null)
          : crashing.proc.once('exit', r),
      );
      assert.equal(crashing.proc.signalCode, 'SIGKILL', 'the failpoint did not kill the server');
      assert.ok(acked.length > 0);
      restarted = await crashing.restart({});
      await verify(restarted, acked, Math.max(...acked.map((a) => a.rev)));
    } finally {
      await restarted?.stop();
      await crashing.destroy();
    }
  });
});
