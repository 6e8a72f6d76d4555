// Two connected in-memory Duplex streams: what one end writes, the other reads. Node 20 has no
// stream.duplexPair; the HTTP/2 front uses this to reach grpc-js without a socket.
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer!: End;

  override _read(): void {}

  // A write is done as soon as the peer has it. Holding it until the peer reads deadlocks two HTTP/2
  // sessions that send large data both ways (Node's session over a non-socket stream stops reading
  // while a write of its own is pending); HTTP/2 flow control already bounds what can pile up.
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) return cb(new Error('the other end is closed'));
    this.peer.push(chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
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
