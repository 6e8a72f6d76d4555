// The clocks of one HTTP/2 connection: the preface deadline, the idle timeout, the server's keepalive
// pings, and grpc-go's keepalive enforcement of the client's pings (etcd 3.4 is built with grpc-go
// 1.33: internal/transport/http2_server.go handlePing and keepalive). Two timers per connection,
// re-armed when they fire; nothing per frame but a counter.
import { MAX_PING_STRIKES, PING_WITHOUT_STREAM_MS, type H2Limits } from './limits.ts';

/** What the timers need of their connection. */
export interface KeepaliveOwner {
  /** Open streams now. */
  readonly activeStreams: number;
  /** Streams ever opened (to see whether one opened since the last look). */
  readonly streamsOpened: number;
  /** The client has sent its preface and first SETTINGS. */
  readonly greeted: boolean;
  /** Sends our keepalive PING. */
  ping(): void;
  /** The preface did not come in time, or the keepalive PING went unanswered: close at once. */
  abort(why: 'preface' | 'keepalive'): void;
  /** Idle too long: GOAWAY(NO_ERROR), then close. */
  idle(): void;
}

export class Keepalive {
  private strikes = 0;
  private lastPingAt = -Infinity;
  /** The preface and idle deadline, and the keepalive ping. */
  private idleTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private idleOpened = -1;
  private pingReads = 0;
  private pingOutstanding = false;

  constructor(
    private readonly limits: H2Limits,
    private readonly conn: KeepaliveOwner,
    /** The socket's reads so far (transport.ts): any read is a sign of life. */
    private readonly io: { readonly reads: number },
  ) {
    this.idleTimer = setTimeout(this.onIdleTimer, limits.prefaceTimeoutMs).unref();
  }

  /** The client's preface and first SETTINGS are in: the idle and keepalive clocks start. */
  greeted(): void {
    clearTimeout(this.idleTimer);
    this.idleOpened = this.conn.streamsOpened;
    this.idleTimer = setTimeout(this.onIdleTimer, this.limits.idleTimeoutMs).unref();
    this.armPing(this.limits.keepalive.intervalMs);
  }

  /**
   * A PING from the client (grpc-go's policy, PermitWithoutStream false as etcd sets it): a ping
   * less than --grpc-keepalive-min-time after the previous one is a strike, and without open streams
   * one less than two hours after it; a HEADERS or DATA sent by us since the previous ping
   * (`answered`) clears the strikes instead. False once there are more than MAX_PING_STRIKES: GOAWAY
   * ENHANCE_YOUR_CALM "too_many_pings".
   */
  onPing(answered: boolean): boolean {
    const now = performance.now();
    const last = this.lastPingAt;
    this.lastPingAt = now;
    if (answered) {
      this.strikes = 0;
      return true;
    }
    const min = this.conn.activeStreams < 1 ? PING_WITHOUT_STREAM_MS : this.limits.keepalive.minTimeMs;
    if (last + min > now) this.strikes++;
    return this.strikes <= MAX_PING_STRIKES;
  }

  close(): void {
    clearTimeout(this.idleTimer);
    clearTimeout(this.pingTimer);
  }

  private readonly onIdleTimer = (): void => {
    const c = this.conn;
    if (!c.greeted) return c.abort('preface');
    // Idle: no stream open now and none opened since the timer was armed.
    if (c.activeStreams === 0 && c.streamsOpened === this.idleOpened) return c.idle();
    this.idleOpened = c.streamsOpened;
    this.idleTimer = setTimeout(this.onIdleTimer, this.limits.idleTimeoutMs).unref();
  };

  private armPing(ms: number): void {
    this.pingReads = this.io.reads;
    this.pingTimer = setTimeout(this.onPingTimer, ms).unref();
  }

  /**
   * grpc-go's server keepalive: after --grpc-keepalive-interval without reading anything, a PING;
   * if nothing is read within --grpc-keepalive-timeout after it, the connection is closed.
   */
  private readonly onPingTimer = (): void => {
    const ka = this.limits.keepalive;
    if (this.io.reads !== this.pingReads) {
      this.pingOutstanding = false;
      return this.armPing(ka.intervalMs);
    }
    if (this.pingOutstanding) return this.conn.abort('keepalive');
    this.pingOutstanding = true;
    this.conn.ping();
    this.armPing(ka.timeoutMs);
  };
}
