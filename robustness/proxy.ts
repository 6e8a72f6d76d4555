// A TCP proxy in front of each member's peer port: the members advertise the proxies' URLs, so every
// raft connection goes through one. A member can be partitioned (every connection to it, or from it,
// blackholed: bytes read and dropped, nothing forwarded; new ones accepted and blackholed too, until
// heal() closes them so both ends reconnect) or slowed (its connections delay each chunk, in order).
// Which member opened a connection is found in /proc: the socket's inode, then the process holding it,
// so the proxy works the same for etcd's and tetcd's peer protocols.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProxiedMember {
  name: string;
  /** The port the member listens on for peers. */
  peerPort: number;
  /** The port of its proxy (the one in --initial-cluster). */
  proxyPort: number;
  pid(): number | undefined;
}

interface Conn {
  src: string | undefined;
  dst: string;
  client: Socket;
  upstream: Socket | undefined;
  blackholed: boolean;
}

/** The inode of the loopback TCP socket whose local port is `local` and remote port `remote`. */
function socketInode(local: number, remote: number): string | undefined {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      if (c[1]!.endsWith(`:${hex(local)}`) && c[2]!.endsWith(`:${hex(remote)}`)) return c[9];
    }
  }
  return undefined;
}

function holds(pid: number, inode: string): boolean {
  const want = `socket:[${inode}]`;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return true;
      } catch {
        // the fd closed meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return false;
}

export class PeerNet {
  private readonly servers: Server[] = [];
  private readonly conns = new Set<Conn>();
  private readonly cut = new Set<string>();
  private readonly slow = new Map<string, number>();
  /** Chooses a delay's jitter (the run's PRNG). */
  private readonly jitter: () => number;

  private constructor(
    private readonly members: ProxiedMember[],
    jitter: () => number,
  ) {
    this.jitter = jitter;
  }

  static async start(members: ProxiedMember[], jitter: () => number): Promise<PeerNet> {
    const net = new PeerNet(members, jitter);
    for (const m of members) {
      const s = createServer((c) => net.accept(m, c));
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.listen(m.proxyPort, '127.0.0.1', () => res());
      });
      net.servers.push(s);
    }
    return net;
  }

  private sourceOf(c: Socket, proxyPort: number): string | undefined {
    const inode = c.remotePort !== undefined ? socketInode(c.remotePort, proxyPort) : undefined;
    if (!inode) return undefined;
    for (const m of this.members) {
      const pid = m.pid();
      if (pid !== undefined && holds(pid, inode)) return m.name;
    }
    return undefined;
  }

  private blocked(c: Conn): boolean {
    return this.cut.has(c.dst) || (c.src !== undefined && this.cut.has(c.src));
  }

  private delayOf(c: Conn): number {
    const d = Math.max(this.slow.get(c.dst) ?? 0, c.src ? (this.slow.get(c.src) ?? 0) : 0);
    return d === 0 ? 0 : d * (0.5 + this.jitter());
  }

  private accept(m: ProxiedMember, client: Socket): void {
    const c: Conn = {
      src: this.sourceOf(client, m.proxyPort),
      dst: m.name,
      client,
      upstream: undefined,
      blackholed: false,
    };
    this.conns.add(c);
    client.on('error', () => undefined);
    client.on('close', () => {
      this.conns.delete(c);
      c.upstream?.destroy();
    });
    if (this.blocked(c)) {
      c.blackholed = true;
      client.on('data', () => undefined);
      return;
    }
    const up = connect(m.peerPort, '127.0.0.1');
    c.upstream = up;
    up.on('error', () => client.destroy());
    up.on('close', () => client.destroy());
    this.pipe(c, client, up);
    this.pipe(c, up, client);
  }

  /**
   * Forwards `from` to `to`, chunk by chunk, unless blackholed. Delayed chunks wait in one queue per
   * direction drained by one timer, so they leave in the order they came (timers of nearly equal
   * deadlines may fire out of order: that would corrupt the stream).
   */
  private pipe(c: Conn, from: Socket, to: Socket): void {
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.at <= now) {
        const { chunk } = queue.shift()!;
        if (!c.blackholed && !to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, Math.max(1, queue[0]!.at - now));
    };
    from.on('close', () => clearTimeout(timer));
    from.on('data', (chunk: Buffer) => {
      if (c.blackholed) return;
      const d = this.delayOf(c);
      if (d === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      const last = queue.at(-1)?.at ?? 0;
      queue.push({ at: Math.max(last, performance.now() + d), chunk });
      timer ??= setTimeout(drain, Math.max(1, queue[0]!.at - performance.now()));
    });
  }

  /** Cuts `name` off from its peers: its connections, both ways, are blackholed until heal(). */
  partition(name: string): void {
    this.cut.add(name);
    for (const c of this.conns) if (this.blocked(c)) c.blackholed = true;
  }

  /** Slows every connection to or from `name` by about `ms` (0.5x to 1.5x) per chunk. */
  delay(name: string, ms: number): void {
    this.slow.set(name, ms);
  }

  /** Ends every fault: blackholed connections are closed (their streams lost bytes), delays stop. */
  heal(): void {
    this.cut.clear();
    this.slow.clear();
    for (const c of this.conns) {
      if (!c.blackholed) continue;
      c.client.destroy();
      c.upstream?.destroy();
    }
  }

  /** How many open connections have a known source (for the report: the /proc lookup works). */
  identified(): { known: number; all: number } {
    let known = 0;
    for (const c of this.conns) if (c.src) known++;
    return { known, all: this.conns.size };
  }

  async close(): Promise<void> {
    for (const c of this.conns) {
      c.client.destroy();
      c.upstream?.destroy();
    }
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  }
}
