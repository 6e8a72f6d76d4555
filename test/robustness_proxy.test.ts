// The robustness suite's peer proxy on loopback sockets (no server): a connection's source is found
// through /proc (this process stands for member A), a partition blackholes both directions and new
// connections too, heal closes what was blackholed, and delayed bytes arrive late but in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './helpers/procs.ts';
import { PeerNet } from '../robustness/proxy.ts';

/** An echo server standing for member B's peer port. */
async function echo(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port };
}

/** Resolves with what comes back within `ms` after writing `data` (empty string: nothing). */
function roundTrip(s: Socket, data: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (d: Buffer) => {
      got += d.toString();
      if (got.length >= data.length) done();
    };
    const t = setTimeout(() => done(), ms);
    const done = () => {
      clearTimeout(t);
      s.off('data', on);
      resolve(got);
    };
    s.on('data', on);
    s.write(data);
  });
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

test('peer proxy: source traced, partition blackholes both ways, heal closes, delay keeps order', async () => {
  const b = await echo();
  const a = await echo();
  const members = [
    { name: 'A', peerPort: a.port, proxyPort: await freePort(), pid: () => process.pid },
    { name: 'B', peerPort: b.port, proxyPort: await freePort(), pid: () => undefined },
  ];
  // The jitter alternates, so chunk delays alternate between 1.4x and 0.5x: later chunks must still
  // wait for earlier ones.
  let flip = false;
  const net = await PeerNet.start(members, () => {
    flip = !flip;
    return flip ? 0.9 : 0;
  });
  const sockets: Socket[] = [];
  try {
    const c1 = await dial(members[1]!.proxyPort);
    sockets.push(c1);
    assert.equal(await roundTrip(c1, 'hello', 2000), 'hello');
    assert.deepEqual(net.identified(), { known: 1, all: 1 }, 'the connection is traced to A (this process)');

    // Partition A: its connection to B is blackholed, and a new one from A as well.
    net.partition('A');
    assert.equal(await roundTrip(c1, 'lost', 300), '');
    const c2 = await dial(members[1]!.proxyPort);
    sockets.push(c2);
    assert.equal(await roundTrip(c2, 'lost too', 300), '');
    // Into A is cut as well.
    const c3 = await dial(members[0]!.proxyPort);
    sockets.push(c3);
    assert.equal(await roundTrip(c3, 'to A', 300), '');

    // Heal: the blackholed connections are closed; a new one works.
    const closed = new Promise((r) => c1.once('close', r));
    net.heal();
    await closed;
    const c4 = await dial(members[1]!.proxyPort);
    sockets.push(c4);
    assert.equal(await roundTrip(c4, 'back', 2000), 'back');

    // Delay A by ~100 ms: chunks written 10 ms apart come back late, in the order they were written.
    net.delay('A', 100);
    const t0 = performance.now();
    let back = '';
    c4.on('data', (d: Buffer) => (back += d.toString()));
    for (const p of ['1', '2', '3', '4', '5', '6', '7', '8']) {
      c4.write(p);
      await new Promise((r) => setTimeout(r, 10));
    }
    const until = performance.now() + 3000;
    while (back.length < 8 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.equal(back, '12345678');
    assert.ok(performance.now() - t0 >= 150, `two delayed legs: ${performance.now() - t0} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    await net.close();
    a.server.close();
    b.server.close();
  }
});
