// The member's TLS credentials, made once at start from the flags (config.ts TlsFlagsConfig): the
// files are read and checked now, so a missing file, a file that is not PEM or a key that does not
// match its certificate stops the start with one line; --auto-tls and --peer-auto-tls generate
// their certificate into <data-dir>/fixtures/{client,peer} first, as etcd does.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CLIENT_FLAGS, PEER_FLAGS, TlsSource, type TlsFlags } from '../pkg/tls.ts';

const PEER_CLIENT_FLAGS: TlsFlags = {
  ...PEER_FLAGS,
  cert: '--peer-client-cert-file',
  key: '--peer-client-key-file',
};
import { selfCert } from '../pkg/tls_selfcert.ts';
import { splitUrl, type TetcdConfig, type TlsFlagsConfig } from './config.ts';

export interface MemberTls {
  client: TlsSource | undefined;
  peer: TlsSource | undefined;
  /** The peer dialer's own certificate (--peer-client-cert-file), when given. */
  peerDial: TlsSource | undefined;
}

export async function setupTls(cfg: TetcdConfig, log: Logger): Promise<MemberTls> {
  const make = async (
    side: 'client' | 'peer',
    t: TlsFlagsConfig | undefined,
    listen: string[],
    flags: TlsFlags,
  ): Promise<TlsSource | undefined> => {
    if (t === undefined) return undefined;
    let info = t;
    if (t.autoTls) {
      const hosts = listen.map((u) => {
        const p = splitUrl(u)!;
        return `${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port}`;
      });
      const dir = join(cfg.dataDir, 'fixtures', side);
      const files = await selfCert(dir, hosts, cfg.selfSignedCertValidity);
      log.info(
        { path: dir },
        `using the ${side} self-signed certificate (--${side === 'client' ? '' : 'peer-'}auto-tls)`,
      );
      info = { ...t, ...files, selfCert: true };
    }
    const source = new TlsSource(info, flags, (message) =>
      log.warn(
        { side },
        `keeping the ${side} TLS certificate in use: the changed files do not load: ${message}`,
      ),
    );
    log.info(
      {
        cert: info.certFile,
        key: info.keyFile,
        'trusted-ca': info.trustedCaFile ?? '',
        'client-cert-auth': info.clientCertAuth ?? false,
        'crl-file': info.crlFile ?? '',
        'cipher-suites': info.cipherSuites ?? [],
      },
      `starting with ${side} TLS`,
    );
    return source;
  };
  const p = cfg.peerTls;
  const peerDial =
    p?.clientCertFile !== undefined && p.clientKeyFile !== undefined
      ? new TlsSource(
          { ...p, certFile: p.clientCertFile, keyFile: p.clientKeyFile },
          PEER_CLIENT_FLAGS,
          (m) =>
            log.warn(
              {},
              `keeping the peer client TLS certificate in use: the changed files do not load: ${m}`,
            ),
        )
      : undefined;
  return {
    client: await make('client', cfg.clientTls, cfg.listenClientUrls, CLIENT_FLAGS),
    peer: await make('peer', p, cfg.listenPeerUrls, PEER_FLAGS),
    peerDial,
  };
}
