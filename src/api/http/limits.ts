// Every size and limit of the HTTP/2 front, in one place. The configurable ones (H2Limits) come from
// the server's flags where etcd has one; the rest are constants. A flood of frames that cost us work
// but carry none is answered with GOAWAY ENHANCE_YOUR_CALM; a stream we cannot take now is refused
// with RST_STREAM REFUSED_STREAM (gRPC clients retry it transparently).

// ---- flow control

/** The window every stream and the connection start with (RFC 9113 6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** The largest flow-control window (RFC 9113 6.9.1). */
export const MAX_WINDOW = 2 ** 31 - 1;
/** Receive windows granted to the client: per stream (in SETTINGS) and for the connection. */
export const STREAM_WINDOW = 1 << 20;
export const CONN_WINDOW = 16 << 20;
/**
 * A stream's consumed bytes are granted back once this many gathered: half the default window, so a
 * client that has not yet applied our SETTINGS (and still counts 65,535) never waits for us.
 */
export const GRANT_AT = 32 * 1024;

// ---- what a client that does not read can make us hold

/**
 * Answer bytes a stream may have waiting for window before its client's window is held: the
 * client's further requests on that stream then wait on its side, not in our memory.
 */
export const LOCAL_BACKLOG = 1 << 20;
/**
 * Reading from a client pauses while more than this waits in the socket's own write buffer, and
 * answers stop being moved there: they wait in their streams, counted by the connection's budget.
 * Answers waiting for the client's flow-control window never pause reading (its WINDOW_UPDATE must
 * still be read).
 */
export const MAX_UNWRITTEN = 1 << 20;
/**
 * What each open stream is charged against its connection's budget besides its decoded header list:
 * about what a stream and its call keep (measured: ~2 KiB for an idle unary call).
 */
export const STREAM_COST = 4096;
/** gRPC status of an answer dropped because its connection is over budget (UNAVAILABLE). */
export const OVER_BUDGET_STATUS = 14;

// ---- header blocks

/**
 * An encoded header block (HEADERS + CONTINUATIONs, each frame's 9-byte header counted) larger than
 * this many times the header list limit ends the connection (ENHANCE_YOUR_CALM): an encoding never
 * needs more than about the decoded size, so only a flood gets there.
 */
export const HEADER_BLOCK_FACTOR = 4;

// ---- floods: a budget of `burst` frames, refilled at `perSecond` (a token bucket per connection)

export interface FloodBudget {
  burst: number;
  perSecond: number;
}
/**
 * Frames that do nothing: DATA without payload or END_STREAM, HEADERS/CONTINUATION fragments
 * without bytes or END_HEADERS, DATA on a stream closed so long ago that it is forgotten. A client
 * has no reason to send them (RFC 9113 10.5; CVE-2019-9518, CVE-2024-27316).
 */
export const EMPTY_FRAMES: FloodBudget = { burst: 100, perSecond: 10 };
/** SETTINGS frames (each needs an ACK and may touch every stream; CVE-2019-9515). */
export const SETTINGS_FRAMES: FloodBudget = { burst: 100, perSecond: 10 };
/** RST_STREAM of streams whose call runs: the work is started, then thrown away (CVE-2023-44487). */
export const RESETS: FloodBudget = { burst: 200, perSecond: 50 };
/**
 * Frames we must answer (PING and SETTINGS ACKs, RST_STREAM) allowed to pile up unwritten while the
 * client does not read (nghttp2's limit on queued control frames; CVE-2019-9512, CVE-2019-9515).
 */
export const MAX_QUEUED_CONTROL = 1000;
/**
 * New streams (taken or refused) from one connection per turn of the event loop; the rest of what it
 * sent waits for the next turn, so that one connection's burst of calls cannot hold the others up.
 */
export const MAX_STREAMS_PER_TURN = 100;
/**
 * Time one connection may spend on what it sent in one turn of the event loop (its reads, and the
 * calls they run at once) before the rest waits for the next turn; checked every few frames. A
 * turn can hold many reads of one socket (libuv reads up to 32 in a row).
 */
export const TURN_SLICE_MS = 5;

// ---- keepalive (grpc-go's, which etcd 3.4 uses)

/** Pings that break the keepalive policy before GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
export const MAX_PING_STRIKES = 2;
/** Without streams, pings closer than this are strikes (grpc-go, PermitWithoutStream false). */
export const PING_WITHOUT_STREAM_MS = 2 * 60 * 60 * 1000;

// ---- the configurable limits

export interface KeepaliveLimits {
  /** Pings closer than this (with streams open) are strikes: etcd --grpc-keepalive-min-time. */
  minTimeMs: number;
  /** A connection silent this long gets a PING from us: etcd --grpc-keepalive-interval. */
  intervalMs: number;
  /** ...and is closed if still silent this long after it: etcd --grpc-keepalive-timeout. */
  timeoutMs: number;
}

export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS, advertised and enforced: etcd --max-concurrent-streams. */
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a larger request is refused (RST_STREAM FRAME_SIZE_ERROR). */
  maxHeaderListSize: number;
  /**
   * Bytes one connection may make us hold: answers waiting (in streams, the writer and the socket)
   * plus STREAM_COST and the header list of each open stream. Past it new streams are refused and a
   * unary answer is replaced by an UNAVAILABLE status.
   */
  maxConnectionBytes: number;
  /**
   * Client connections served at once (HTTP/2 and HTTP/1.1); more are closed as they are accepted.
   * Ours: etcd has no such bound (--max-client-connections).
   */
  maxConnections: number;
  /** A connection must send its whole preface (and its first SETTINGS) within this. */
  prefaceTimeoutMs: number;
  /** A connection without a stream for this long (at most twice this) is sent GOAWAY and closed. */
  idleTimeoutMs: number;
  keepalive: KeepaliveLimits;
}

/** etcd 3.4's defaults where etcd has the setting, our own otherwise. */
export const DEFAULT_LIMITS: H2Limits = {
  maxConcurrentStreams: 2 ** 32 - 1,
  maxHeaderListSize: 64 * 1024,
  maxConnectionBytes: 32 << 20,
  maxConnections: 4096,
  prefaceTimeoutMs: 5000,
  idleTimeoutMs: 5 * 60 * 1000,
  keepalive: { minTimeMs: 5000, intervalMs: 2 * 60 * 60 * 1000, timeoutMs: 20_000 },
};

export type H2LimitOptions = Partial<Omit<H2Limits, 'keepalive'>> & { keepalive?: Partial<KeepaliveLimits> };

/** `opts` over the defaults. */
export function resolveLimits(opts: H2LimitOptions | undefined): H2Limits {
  return {
    ...DEFAULT_LIMITS,
    ...opts,
    keepalive: { ...DEFAULT_LIMITS.keepalive, ...opts?.keepalive },
  };
}

/** A token bucket: `take()` is false once the client spent its burst faster than the refill. */
export class RateLimit {
  private tokens: number;
  private at = performance.now();

  constructor(private readonly budget: FloodBudget) {
    this.tokens = budget.burst;
  }

  take(): boolean {
    const now = performance.now();
    const b = this.budget;
    this.tokens = Math.min(b.burst, this.tokens + ((now - this.at) * b.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
