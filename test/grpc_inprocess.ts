// Starts a member and its gRPC server inside the test process on a free loopback port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { EtcdServer } from '../src/server/server.ts';
import { startClientServer } from '../src/cli/client_port.ts';
import { createLogger } from '../src/pkg/logger.ts';
import { Client } from './helpers/client.ts';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface InProcess {
  srv: EtcdServer;
  client: Client;
  endpoint: string;
  dataDir: string;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startInProcess(
  opts: { dataDir?: string; maxRequestBytes?: number; maxTxnOps?: number } = {},
): Promise<InProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tetcd-test-'));
  const log = createLogger('error');
  const srv = await EtcdServer.start({
    name: 'test',
    dataDir,
    advertisePeerUrls: ['http://127.0.0.1:2380'],
    initialClusterToken: 'etcd-cluster',
    maxTxnOps: opts.maxTxnOps ?? 128,
    maxRequestBytes: opts.maxRequestBytes ?? 1.5 * 1024 * 1024,
    logger: log,
    fatal: (err) => {
      throw err;
    },
  });
  const cs = await startClientServer(srv, log, '127.0.0.1', 0);
  const endpoint = `127.0.0.1:${cs.port}`;
  const client = new Client(endpoint);
  return {
    srv,
    client,
    endpoint,
    dataDir,
    async close({ keepData = false } = {}) {
      client.close();
      await cs.close();
      await srv.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
