// Two connected in-memory Duplex streams: what one end writes, the other reads. Node 20 has no
// stream.duplexPair; the HTTP/2 front uses this to reach grpc-js without a socket.
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer!: End;
  /** A write the peer has not asked to read yet (its buffer was full): released by its next read. */
  private waiting: (() => void) | undefined;

  override _read(): void {
    const w = this.peer.waiting;
    this.peer.waiting = undefined;
    w?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) return cb(new Error('the other end is closed'));
    if (this.peer.push(chunk)) cb();
    else this.waiting = () => cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    if (!this.peer.destroyed) this.peer.destroy();
    cb(err);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
