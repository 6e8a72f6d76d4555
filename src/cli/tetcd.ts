// `tetcd`: the server binary. Same flags as etcd; JSON logs on stderr; clean shutdown on SIGTERM/SIGINT;
// fail-stop (exit 1, logged at level fatal) on any durability error and on any error that is not one
// request's (a ClientError) while applying the log or stepping raft.
import { ConfigError, infoRequest, parseConfig, type Parsed } from './config.ts';
import { helpText, versionText } from './help.ts';
import { PreflightError, hostPort, preflight, type BoundPorts } from './preflight.ts';
import { createLogger } from '../pkg/logger.ts';
import { EtcdServer } from '../server/server.ts';
import { BootstrapError } from '../server/bootstrap.ts';
import { DataInconsistencyError } from '../server/corrupt.ts';
import { startClientServer, startMetricsServer, type ClientServer } from './client_port.ts';
import { enableExtensive } from '../pkg/metrics.ts';
import { TlsConfigError } from '../pkg/tls.ts';
import { AuthOptionError } from '../server/server.ts';
import { setupTls, type MemberTls } from './tls_setup.ts';
import { splitUrl } from './config.ts';

/** An operator's error: one line on stderr, exit status 1 (2 for flag syntax, as etcd), no stack. */
function refuse(message: string, code = 1): never {
  process.stderr.write(`tetcd: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const info = infoRequest(argv);
  if (info !== undefined) {
    process.stdout.write(info === 'help' ? helpText() : versionText());
    process.exit(0);
  }
  let parsed: Parsed;
  try {
    parsed = parseConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) refuse(`${e.message}. See 'tetcd --help'.`, e.exitCode);
    throw e;
  }
  const { config, ignored, pending, warnings } = parsed;
  const log = createLogger(config.logLevel);
  for (const w of warnings) log.warn({}, w);
  if (parsed.configFile !== undefined) {
    log.info(
      { path: parsed.configFile },
      'loaded the configuration file; flags and ETCD_* variables are ignored',
    );
  }
  if (config.metrics === 'extensive') enableExtensive();
  if (pending.length) {
    const named = pending.map((p) => `--${p.flag} (issue ${p.issue})`).join(', ');
    log.warn({ flags: pending.map((p) => p.flag) }, `flags accepted, not in effect yet: ${named}`);
  }
  if (ignored.length) {
    const named = ignored.map((f) => `--${f}`).join(', ');
    log.warn(
      { flags: ignored },
      `flags accepted, with no meaning in tetcd (docs/flags.md says why): ${named}`,
    );
  }
  // From the preflight on, the client port is bound: whoever sees it open may send SIGTERM at once.
  // A signal that comes before the member has started stops it as soon as it has.
  let srv: EtcdServer | undefined;
  const servers: ClientServer[] = [];
  let stopping: string | undefined;
  const stop = async (signal: string) => {
    if (stopping !== undefined) return;
    stopping = signal;
    if (srv === undefined) return; // main() calls again once the member has started
    log.info({ signal }, 'received signal; shutting down');
    await Promise.all(servers.map((s) => s.close()));
    await srv.close();
    log.info({}, 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const loadTls = async (): Promise<MemberTls> => {
    try {
      return await setupTls(config, log);
    } catch (e) {
      if (e instanceof TlsConfigError) refuse(e.message);
      throw e;
    }
  };
  // Certificate files are checked before anything is created; --auto-tls writes its certificate into
  // the data dir, so it waits for the preflight to create it.
  const autoTls = config.clientTls?.autoTls === true || config.peerTls?.autoTls === true;
  const early = autoTls ? undefined : await loadTls();
  let ports: BoundPorts;
  try {
    ports = await preflight(config);
  } catch (e) {
    if (e instanceof PreflightError) refuse(e.message);
    throw e;
  }
  const tls = early ?? (await loadTls());
  const fatal = (err: unknown) => {
    log.fatal({ err }, 'fail-stop: stopping the member');
    process.exit(1);
  };
  log.info(
    { name: config.name, 'data-dir': config.dataDir, 'listen-client-urls': config.listenClientUrls },
    'starting tetcd',
  );
  try {
    srv = await EtcdServer.start({
      name: config.name,
      dataDir: config.dataDir,
      advertisePeerUrls: config.initialAdvertisePeerUrls,
      advertiseClientUrls: config.advertiseClientUrls,
      initialCluster: config.initialCluster,
      initialClusterState: config.initialClusterState,
      initialClusterToken: config.initialClusterToken,
      ...(config.walDir !== undefined ? { walDir: config.walDir } : {}),
      maxSnapshots: config.maxSnapshots,
      maxWals: config.maxWals,
      forceNewCluster: config.forceNewCluster,
      initialElectionTickAdvance: config.initialElectionTickAdvance,
      strictReconfigCheck: config.strictReconfigCheck,
      initialCorruptCheck: config.initialCorruptCheck,
      corruptCheckTimeMs: config.corruptCheckTime,
      quotaBackendBytes: config.quotaBackendBytes,
      authToken: config.authToken,
      authTokenTtlSec: config.authTokenTtl,
      bcryptCost: config.bcryptCost,
      clientCertAuth: config.clientTls?.clientCertAuth ?? false,
      autoCompactionMode: config.autoCompactionMode,
      autoCompactionRetention: config.autoCompactionRetention,
      watchProgressNotifyIntervalMs: config.watchProgressNotifyInterval,
      heartbeatMs: config.heartbeatInterval,
      electionTimeoutMs: config.electionTimeout,
      snapshotCount: config.snapshotCount,
      snapshotCatchupEntries: config.snapshotCatchupEntries,
      preVote: config.preVote,
      ...(config.listenPeerUrlsGiven ? { listenPeerUrls: config.listenPeerUrls } : {}),
      maxTxnOps: config.maxTxnOps,
      maxRequestBytes: config.maxRequestBytes,
      ...(tls.peer !== undefined
        ? {
            peerTls: {
              source: tls.peer,
              dial: tls.peerDial,
              skipClientSanVerify: config.peerTls?.skipClientSanVerify ?? false,
            },
          }
        : {}),
      logger: log,
      fatal,
      onRemoved: () => void stop('removed from the cluster'),
    });
  } catch (e) {
    if (e instanceof BootstrapError) refuse(e.message);
    // etcd 3.4 ends the same way when --experimental-initial-corrupt-check finds a mismatch.
    if (e instanceof DataInconsistencyError) refuse(e.message);
    // etcd 3.4: "failed to create token provider", then the error (auth: invalid auth options, ...).
    if (e instanceof AuthOptionError) refuse(e.message);
    // A system error the checks could not foresee (a full disk, a race on a port): its line, no stack.
    if (isSystemError(e)) refuse(e.message);
    throw e;
  }
  if (stopping !== undefined) {
    const signal = stopping;
    stopping = undefined;
    return stop(signal);
  }
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
    const bound = ports.get(u);
    const secure = splitUrl(u)!.scheme === 'https' ? tls.client : undefined;
    servers.push(
      await startClientServer(srv, log, host, port, limits, { pprof: config.enablePprof }, bound, secure),
    );
    log.info({ address: u }, 'serving client traffic');
  }
  for (const u of config.listenMetricsUrls) {
    const { host, port } = hostPort(u);
    const secure = splitUrl(u)!.scheme === 'https' ? tls.client : undefined;
    servers.push(await startMetricsServer(srv, host, port, ports.get(u), secure));
    log.info({ address: u }, 'serving /metrics and /health');
  }
}

function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

main().catch((err: unknown) => {
  if (isSystemError(err)) refuse(err.message);
  process.stderr.write(`tetcd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
