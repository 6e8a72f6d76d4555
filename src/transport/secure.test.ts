// Peer TLS in the transport: members on https:// peer URLs exchange messages and snapshots over TLS;
// --peer-cert-allowed-cn refuses another CN; a certificate of another CA is refused at the handshake;
// members that disagree on the scheme fail with a logged line that names the mismatch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../test/helpers/procs.ts';
import { certDir, makeCa, type Ca } from '../../test/helpers/certs.ts';
import { PEER_FLAGS, TlsSource, type TlsInfo } from '../pkg/tls.ts';
import { Transport } from './transport.ts';
import type { PeerTls } from './secure.ts';
import { MessageType, message, type Message } from '../raft/raftpb.ts';

const CLUSTER = 0xcdf818194e3a8c32n;
const ID1 = 0x8e9e05c52164694dn;
const ID2 = 0x91bc3c398fb3c146n;

let ca: Ca;
let dir: ReturnType<typeof certDir>;
let caFile: string;
const open: Transport[] = [];

before(async () => {
  ca = await makeCa();
  dir = certDir('tetcd-peer-tls-');
  caFile = dir.file('ca.crt', ca.cert);
});

after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

async function tlsFor(cn: string, more: Partial<TlsInfo> = {}, issuer?: Ca): Promise<PeerTls> {
  const files = dir.write(`${cn}-${Math.random().toString(16).slice(2)}`, await (issuer ?? ca).issue(cn));
  const info: TlsInfo = {
    certFile: files.cert,
    keyFile: files.key,
    trustedCaFile: caFile,
    clientCertAuth: true,
    ...more,
  };
  return { source: new TlsSource(info, PEER_FLAGS) };
}

interface Node {
  id: bigint;
  url: string;
  t: Transport;
  msgs: Message[];
  logs: string[];
}

async function node(id: bigint, scheme: 'http' | 'https', tls?: PeerTls): Promise<Node> {
  const url = `${scheme}://127.0.0.1:${await freePort()}`;
  const msgs: Message[] = [];
  const logs: string[] = [];
  const rec = (level: string) => (msg: string) => logs.push(`${level} ${msg}`);
  const t = new Transport({
    clusterId: CLUSTER,
    memberId: id,
    listenUrl: url,
    onMessage: (m) => msgs.push(m),
    logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') },
    limits: { backoffMinMs: 5, backoffMaxMs: 50 },
    tls,
  });
  await t.start();
  open.push(t);
  return { id, url, t, msgs, logs };
}

async function waitFor(what: string, cond: () => boolean, ms = 5000, poke?: () => void): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    poke?.();
    if (cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const heartbeat = (from: bigint, to: bigint) =>
  message({ type: MessageType.MsgHeartbeat, from, to, term: 1 });

test('members on https:// peer URLs exchange messages and snapshots over TLS, verified both ways', async () => {
  const a = await node(ID1, 'https', await tlsFor('m1'));
  const b = await node(ID2, 'https', await tlsFor('m2'));
  a.t.addPeer(b.id, b.url);
  b.t.addPeer(a.id, a.url);
  await waitFor(
    'a message each way',
    () => a.msgs.length > 0 && b.msgs.length > 0,
    5000,
    () => {
      a.t.send([heartbeat(a.id, b.id)]);
      b.t.send([heartbeat(b.id, a.id)]);
    },
  );
  const data = new Uint8Array(3 << 20).fill(7);
  a.t.send([
    message({
      type: MessageType.MsgSnap,
      from: a.id,
      to: b.id,
      term: 1,
      snapshot: {
        data,
        metadata: {
          index: 10,
          term: 1,
          confState: {
            voters: [a.id, b.id],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
      },
    }),
  ]);
  await waitFor('the snapshot', () => b.msgs.some((m) => m.type === MessageType.MsgSnap), 10_000);
  const snap = b.msgs.find((m) => m.type === MessageType.MsgSnap)!;
  assert.equal(snap.snapshot!.data.length, data.length);
  assert.deepEqual(
    [...a.logs, ...b.logs].filter((l) => l.startsWith('error')),
    [],
  );
  await Promise.all([a.t.close(), b.t.close()]);
});

test('--peer-cert-allowed-cn refuses a peer whose certificate has another CN; another CA is refused at the handshake', async () => {
  const a = await node(ID1, 'https', await tlsFor('m1', { allowedCn: 'm-allowed' }));
  const b = await node(ID2, 'https', await tlsFor('m2'));
  b.t.addPeer(a.id, a.url);
  await waitFor(
    'the refusal',
    () => a.logs.some((l) => /client certificate authentication failed/.test(l)),
    5000,
  );
  assert.equal(a.msgs.length, 0);
  const other = await makeCa('another CA');
  const c = await node(0x1234n, 'https', await tlsFor('m3', {}, other));
  c.t.addPeer(a.id, a.url);
  await waitFor(
    'the handshake failure',
    () => a.logs.some((l) => /rejected peer connection .*(certificate|alert)/i.test(l)),
    5000,
  );
  assert.equal(a.msgs.length, 0);
  await Promise.all([a.t.close(), b.t.close(), c.t.close()]);
});

test('--peer-client-cert-file is what a member presents when it dials', async () => {
  const a = await node(ID1, 'https', await tlsFor('m1', { allowedCn: 'dialer' }));
  const bTls = await tlsFor('m2');
  const dial = (await tlsFor('dialer')).source;
  const b = await node(ID2, 'https', { ...bTls, dial });
  b.t.addPeer(a.id, a.url);
  await waitFor(
    'a message through the allowed CN',
    () => a.msgs.length > 0,
    5000,
    () => b.t.send([heartbeat(b.id, a.id)]),
  );
  assert.deepEqual(
    a.logs.filter((l) => l.startsWith('error')),
    [],
  );
  await Promise.all([a.t.close(), b.t.close()]);
});

test('members that disagree on the peer scheme log the mismatch, and nothing is delivered', async () => {
  // Plaintext dialing a TLS peer port.
  const secure = await node(ID1, 'https', await tlsFor('m1'));
  const plain = await node(ID2, 'http');
  plain.t.addPeer(secure.id, secure.url.replace('https://', 'http://'));
  await waitFor(
    'the TLS side to log it',
    () => secure.logs.some((l) => /first record does not look like a TLS handshake: .*same scheme/.test(l)),
    5000,
    () => plain.t.send([heartbeat(plain.id, secure.id)]),
  );
  // TLS dialing a plaintext peer port.
  secure.t.addPeer(plain.id, plain.url.replace('http://', 'https://'));
  await waitFor(
    'the plaintext side to log it',
    () => plain.logs.some((l) => /a TLS handshake on this http:\/\/ peer URL/.test(l)),
    5000,
    () => secure.t.send([heartbeat(secure.id, plain.id)]),
  );
  assert.equal(secure.msgs.length + plain.msgs.length, 0);
  await Promise.all([secure.t.close(), plain.t.close()]);
});
