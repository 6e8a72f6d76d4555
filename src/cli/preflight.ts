// Checks made before anything is created or changed on disk, so that an operator's mistake is one line
// naming the cause and the fix: listen addresses that cannot be bound (etcd binds its listeners before
// it touches the data dir), a data or WAL dir that is a file or cannot be created or written, an etcd
// data dir (bbolt backend, etcd WAL).
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  rmdirSync,
  statSync,
} from 'node:fs';
import { HeldListener } from '../api/http/listener.ts';
import { dirname, join, resolve } from 'node:path';
import { splitUrl, type TetcdConfig } from './config.ts';

export class PreflightError extends Error {}

/** The address a URL of ours is bound on ("localhost" is the IPv4 loopback, which etcdctl dials). */
export function hostPort(u: string): { host: string; port: number } {
  const p = splitUrl(u)!;
  return { host: p.host === 'localhost' ? '127.0.0.1' : p.host, port: Number(p.port) };
}

export async function preflight(cfg: TetcdConfig): Promise<BoundPorts> {
  const ports = await checkListen(cfg);
  checkDir('--data-dir', cfg.dataDir);
  if (cfg.walDir !== undefined) checkDir('--wal-dir', cfg.walDir);
  checkNotEtcd(cfg);
  // Last, once every check passed: create the data dir, the only proof some file systems give (root
  // passes every permission check; /proc and /sys refuse anyway). A WAL that is not where --wal-dir
  // says is refused by the server's bootstrap, before it creates the --wal-dir or anything else.
  createDir('--data-dir', cfg.dataDir);
  return ports;
}

/** Client and metrics ports bound by the preflight, by URL, held until the member serves them. */
export type BoundPorts = Map<string, HeldListener>;

/**
 * Binds every listen address once. The client and metrics ports stay bound (their connections wait
 * until the member serves them: a port seen open is never refused afterwards); the peer ports are
 * released for the transport to bind (peers retry).
 */
async function checkListen(cfg: TetcdConfig): Promise<BoundPorts> {
  const wanted: { flag: string; url: string; keep: boolean }[] = cfg.listenClientUrls.map((url) => ({
    flag: '--listen-client-urls',
    url,
    keep: true,
  }));
  if (cfg.listenPeerUrlsGiven) {
    for (const url of cfg.listenPeerUrls) wanted.push({ flag: '--listen-peer-urls', url, keep: false });
  }
  for (const url of cfg.listenMetricsUrls) wanted.push({ flag: '--listen-metrics-urls', url, keep: true });
  const kept: BoundPorts = new Map();
  const released: HeldListener[] = [];
  try {
    for (const { flag, url, keep } of wanted) {
      const { host, port } = hostPort(url);
      let l: HeldListener;
      try {
        l = await HeldListener.bind(host, port);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const why =
          e.code === 'EADDRINUSE'
            ? 'address already in use'
            : e.code === 'EADDRNOTAVAIL'
              ? 'cannot assign requested address'
              : e.code === 'EACCES'
                ? 'permission denied'
                : (e.code ?? e.message);
        const fix =
          e.code === 'EADDRINUSE'
            ? 'stop the process listening there or choose another port'
            : e.code === 'EADDRNOTAVAIL'
              ? `${host} is not an address of this host: choose one that is`
              : 'choose another address or port';
        throw new PreflightError(`listen tcp ${host}:${port}: bind: ${why} (${flag} ${url}): ${fix}`);
      }
      if (keep) kept.set(url, l);
      else released.push(l);
    }
  } catch (e) {
    await Promise.all([...kept.values()].map((l) => l.close()));
    throw e;
  } finally {
    await Promise.all(released.map((l) => l.close()));
  }
  return kept;
}

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

const REASON: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  ENOSPC: 'no space left on device',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

/** The directory exists and is writable, or can be created: nothing is created here. */
function checkDir(flag: string, dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if (errno(e) !== 'ENOENT' && errno(e) !== 'ENOTDIR') {
      throw new PreflightError(
        `cannot use ${flag} "${dir}": ${REASON[errno(e)] ?? errno(e)}: fix its permissions or choose another ${flag}`,
      );
    }
    // The nearest part of the path that exists must be a directory we may create entries in.
    let up = resolve(dir);
    for (;;) {
      const parent = dirname(up);
      if (parent === up) break;
      up = parent;
      let pst;
      try {
        pst = statSync(up);
      } catch {
        continue;
      }
      if (!pst.isDirectory()) {
        throw new PreflightError(
          `cannot create ${flag} "${dir}": "${up}" is a file, not a directory: choose another ${flag}`,
        );
      }
      try {
        accessSync(up, constants.W_OK | constants.X_OK);
      } catch (e2) {
        throw new PreflightError(
          `cannot create ${flag} "${dir}": "${up}" is not writable (${REASON[errno(e2)] ?? errno(e2)}): create the directory for this user or choose another ${flag}`,
        );
      }
      break;
    }
    return;
  }
  if (!st.isDirectory()) {
    throw new PreflightError(
      `${flag} "${dir}" is a file, not a directory: remove it or choose another ${flag}`,
    );
  }
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new PreflightError(
      `${flag} "${dir}" is not writable (${REASON[errno(e)] ?? errno(e)}): fix its permissions or choose another ${flag}`,
    );
  }
}

/** The first bytes of a file, or undefined if it cannot be read. */
function head(path: string, n: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** bbolt's meta page: page flags 0x04 (meta) at offset 8, magic 0xED0CDAED at offset 16. */
export function isBboltFile(path: string): boolean {
  const b = head(path, 20);
  return (
    b !== undefined && b.length === 20 && b.readUInt16LE(8) === 0x04 && b.readUInt32LE(16) === 0xed0cdaed
  );
}

/**
 * etcd's WAL: every record is a little-endian u64 whose low 56 bits are the length of a walpb.Record
 * (padding to 8 bytes flagged in the top byte), and a segment begins with a crcType record (field 1,
 * varint 4). tetcd's WAL frames records differently, so its files never match.
 */
export function isEtcdWalFile(path: string): boolean {
  const b = head(path, 10);
  if (b === undefined || b.length < 10) return false;
  const word = b.readBigUInt64LE(0);
  const len = Number(word & 0x00ff_ffff_ffff_ffffn);
  const top = Number(word >> 56n);
  const pad = top & 0x80 ? top & 0x07 : 0;
  if ((top & 0x78) !== 0 || len === 0 || len > 1 << 20 || (len + pad) % 8 !== 0) return false;
  return b[8] === 0x08 && b[9] === 0x04;
}

function walFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith('.wal'));
  } catch {
    return [];
  }
}

function checkNotEtcd(cfg: TetcdConfig): void {
  const found: string[] = [];
  if (isBboltFile(join(cfg.dataDir, 'member', 'snap', 'db'))) found.push('member/snap/db is a bbolt file');
  const walDirs = [join(cfg.dataDir, 'member', 'wal'), ...(cfg.walDir !== undefined ? [cfg.walDir] : [])];
  for (const d of walDirs) {
    const etcdWal = walFiles(d).find((n) => isEtcdWalFile(join(d, n)));
    if (etcdWal !== undefined) {
      found.push(`${d === walDirs[0] ? 'member/wal' : d} holds etcd's WAL`);
    }
  }
  if (found.length) {
    throw new PreflightError(
      `"${cfg.dataDir}" is an etcd data directory (${found.join(', ')}), which tetcd cannot open: convert a copy with 'tetcdutl migrate --from-etcd-data-dir ${cfg.dataDir} --data-dir <new dir>' and start tetcd on that`,
    );
  }
}

/** mkdir -p; on failure the directories made here are removed again and the line says why. */
function createDir(flag: string, dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      statSync(d);
      break;
    } catch {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
  }
  const made: string[] = [];
  try {
    for (const d of missing) {
      mkdirSync(d, { mode: 0o700 });
      made.push(d);
    }
  } catch (e) {
    for (const d of made.reverse()) rmdirSync(d);
    throw new PreflightError(
      `cannot create ${flag} "${dir}": ${REASON[errno(e)] ?? errno(e)}: choose another ${flag}, or create it for this user`,
    );
  }
}
