// With --client-cert-auth and auth enabled, a call without a token is the user named by its verified
// client certificate's CN, as in etcd: the same etcdctl 3.4 session (root with CN root, a user alice
// with a read permission on one key, a CN no user has) prints the same against tetcd and etcd 3.4.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { haveEtcd } from './helpers/procs.ts';
import {
  httpsCall,
  makePki,
  runToExit,
  serverTlsArgs,
  startTlsServer,
  type Pki,
  type TlsServer,
} from './helpers/tls_procs.ts';
import { certDir } from './helpers/certs.ts';

const ETCD = haveEtcd();

let pki: Pki;
let servers: TlsServer[] = [];
let certs: Record<string, { cert: string; key: string }> = {};

before(async () => {
  if (!ETCD) return;
  pki = await makePki();
  const d = certDir('tetcd-cn-');
  certs = {
    root: pki.client,
    alice: d.write('alice', await pki.ca.issue('alice')),
    nobody: d.write('nobody', await pki.ca.issue('nobody')),
  };
  servers = await Promise.all(
    (['tetcd', 'etcd'] as const).map((k) => startTlsServer(k, pki, serverTlsArgs(pki))),
  );
});

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  pki?.cleanup();
});

/** etcdctl as the certificate's CN (no --user: the CN is the user once auth is on). */
const as = (s: TlsServer, cn: string, args: string[]) =>
  runToExit('etcdctl', [
    `--endpoints=${s.url}`,
    '--dial-timeout=3s',
    '--command-timeout=5s',
    `--cacert=${pki.caFile}`,
    `--cert=${certs[cn]!.cert}`,
    `--key=${certs[cn]!.key}`,
    ...args,
  ]);

const SESSION: [string, string[]][] = [
  ['root', ['user', 'add', 'root', '--no-password']],
  ['root', ['user', 'grant-role', 'root', 'root']],
  ['root', ['user', 'add', 'alice', '--no-password']],
  ['root', ['role', 'add', 'reader']],
  ['root', ['role', 'grant-permission', 'reader', 'read', 'k']],
  ['root', ['user', 'grant-role', 'alice', 'reader']],
  ['root', ['put', 'k', 'v']],
  ['root', ['auth', 'enable']],
  ['root', ['put', 'k', 'v2']],
  ['root', ['get', 'k']],
  ['alice', ['get', 'k']],
  ['alice', ['put', 'k', 'x']],
  ['alice', ['get', 'other']],
  ['nobody', ['get', 'k']],
  ['alice', ['user', 'list']],
  ['root', ['user', 'list']],
  ['gateway', []],
  ['root', ['auth', 'disable']],
  ['nobody', ['get', 'k']],
];

test(
  'CN auth: the verified certificate CN is the user when auth is on, as etcd 3.4 answers',
  { skip: !ETCD },
  async () => {
    let refused = 0;
    for (const [cn, args] of SESSION) {
      if (cn === 'gateway') {
        // The JSON gateway never takes the CN as the user: with auth on, etcd 3.4 answers a /v3/ request
        // made with a certificate that has a CN 400 (embed/serve.go); tetcd the same.
        const [t, e] = await Promise.all(
          servers.map((s) =>
            httpsCall(`${s.url}/v3/kv/range`, pki, { method: 'POST', body: '{"key":"aw=="}' }),
          ),
        );
        assert.equal(t!.status, e!.status, `gateway: ${t!.body}`);
        assert.equal(t!.body, e!.body);
        assert.equal(t!.status, 400);
        continue;
      }
      const [t, e] = await Promise.all(servers.map((s) => as(s, cn, args)));
      const what = `${cn}: etcdctl ${args.join(' ')}`;
      assert.equal(t!.stdout, e!.stdout, what);
      assert.equal(t!.code, e!.code, `${what}: ${t!.stderr}`);
      const last = (r: { stderr: string }) => r.stderr.trim().split('\n').at(-1) ?? '';
      assert.equal(last(t!), last(e!), what);
      if (e!.code !== 0) refused++;
    }
    // alice's put, alice's get of another key, nobody's get, alice's user list: refused by etcd too.
    assert.ok(refused >= 4, `etcd refused ${refused} steps`);
  },
);
