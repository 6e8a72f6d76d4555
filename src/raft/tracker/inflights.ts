// A sliding window of in-flight MsgApps to one follower: the last index of each message sent in
// StateReplicate, with its byte size. The window is full at `size` messages or, if maxBytes > 0, once
// the bytes in flight reach maxBytes. Acks free a prefix with freeLE.

interface Inflight {
  index: number;
  bytes: number;
}

export class Inflights {
  /** Ring buffer; grown on demand up to `size` so idle followers cost little. */
  private buffer: Inflight[] = [];
  private start = 0;
  private cnt = 0;
  private bytesInFlight = 0;

  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {}

  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.buffer = this.buffer.map((e) => ({ ...e }));
    c.start = this.start;
    c.cnt = this.cnt;
    c.bytesInFlight = this.bytesInFlight;
    return c;
  }

  /** Records a message whose last entry is `index`. Indexes must be added in increasing order. */
  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a full inflights');
    let next = this.start + this.cnt;
    if (next >= this.size) next -= this.size;
    if (next >= this.buffer.length) this.grow();
    this.buffer[next] = { index, bytes };
    this.cnt++;
    this.bytesInFlight += bytes;
  }

  // Doubles the buffer (capped at size). Only called when the live entries are contiguous from 0..len,
  // because the ring can only wrap once the buffer has reached `size`.
  private grow(): void {
    const n = Math.min(Math.max(this.buffer.length * 2, 1), this.size);
    for (let i = this.buffer.length; i < n; i++) this.buffer.push({ index: 0, bytes: 0 });
  }

  /** Frees every in-flight message whose index is <= `to`. */
  freeLE(to: number): void {
    if (this.cnt === 0) return;
    const first = this.buffer[this.start];
    if (first === undefined || to < first.index) return;
    let idx = this.start;
    let i = 0;
    let freedBytes = 0;
    for (; i < this.cnt; i++) {
      const e = this.buffer[idx];
      if (e === undefined || to < e.index) break;
      freedBytes += e.bytes;
      idx++;
      if (idx >= this.size) idx -= this.size;
    }
    this.cnt -= i;
    this.bytesInFlight -= freedBytes;
    // Once empty, restart at slot 0 so the window does not keep wrapping.
    this.start = this.cnt === 0 ? 0 : idx;
  }

  full(): boolean {
    return this.cnt === this.size || (this.maxBytes !== 0 && this.bytesInFlight >= this.maxBytes);
  }

  count(): number {
    return this.cnt;
  }

  /** Bytes currently in flight. */
  bytes(): number {
    return this.bytesInFlight;
  }

  reset(): void {
    this.cnt = 0;
    this.start = 0;
    this.bytesInFlight = 0;
  }
}
