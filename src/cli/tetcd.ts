// `tetcd`: the server binary. Same flags as etcd; JSON logs on stderr; clean shutdown on SIGTERM/SIGINT;
// fail-stop (exit 1, logged at level fatal) on any durability error and on any error that is not one
// request's (a ClientError) while applying the log or stepping raft.
import { ConfigError, parseConfig } from './config.ts';
import { createLogger } from '../pkg/logger.ts';
import { EtcdServer } from '../server/server.ts';
import { BootstrapError } from '../server/bootstrap.ts';
import { startClientServer, type ClientServer } from '../api/grpc/server.ts';

function hostPort(u: string): { host: string; port: number } {
  const url = new URL(u);
  // "localhost" binds the IPv4 loopback only, like the address etcdctl dials by default.
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, '');
  return { host, port: Number(url.port) };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.help') process.exit(0);
    if (e instanceof ConfigError) {
      process.stderr.write(`tetcd: ${e.message}\nRun 'tetcd --help' for the flags.\n`);
      process.exit(2);
    }
    throw e;
  }
  const { config, ignored } = parsed;
  const log = createLogger(config.logLevel);
  if (ignored.length) log.warn({ flags: ignored }, 'flags accepted for compatibility but not in effect yet');
  const fatal = (err: unknown) => {
    log.fatal({ err }, 'fail-stop: stopping the member');
    process.exit(1);
  };
  log.info(
    { name: config.name, 'data-dir': config.dataDir, 'listen-client-urls': config.listenClientUrls },
    'starting tetcd',
  );
  let srv: EtcdServer;
  try {
    srv = await EtcdServer.start({
      name: config.name,
      dataDir: config.dataDir,
      advertisePeerUrls: config.initialAdvertisePeerUrls,
      advertiseClientUrls: config.advertiseClientUrls,
      initialCluster: config.initialCluster,
      initialClusterState: config.initialClusterState,
      initialClusterToken: config.initialClusterToken,
      heartbeatMs: config.heartbeatInterval,
      electionTimeoutMs: config.electionTimeout,
      snapshotCount: config.snapshotCount,
      snapshotCatchupEntries: config.snapshotCatchupEntries,
      preVote: config.preVote,
      ...(config.listenPeerUrlsGiven ? { listenPeerUrls: config.listenPeerUrls } : {}),
      maxTxnOps: config.maxTxnOps,
      maxRequestBytes: config.maxRequestBytes,
      logger: log,
      fatal,
      onRemoved: () => void stop('removed from the cluster'),
    });
  } catch (e) {
    if (e instanceof BootstrapError) {
      log.fatal({ err: e.message }, 'cannot start the member');
      process.stderr.write(`tetcd: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const servers: ClientServer[] = [];
  const limits = {
    maxConcurrentStreams: config.maxConcurrentStreams,
    maxConnections: config.maxClientConnections,
    keepalive: {
      minTimeMs: config.grpcKeepAliveMinTime,
      intervalMs: config.grpcKeepAliveInterval,
      timeoutMs: config.grpcKeepAliveTimeout,
    },
  };
  for (const u of config.listenClientUrls) {
    const { host, port } = hostPort(u);
    servers.push(await startClientServer(srv, log, host, port, limits));
    log.info({ address: u }, 'serving client traffic');
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'received signal; shutting down');
    await Promise.all(servers.map((s) => s.close()));
    await srv.close();
    log.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`tetcd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
