// A small seeded PRNG (xoshiro128**, seeded through splitmix32) so every random choice of the simulator
// and of the raft nodes it drives replays exactly from one seed. Implements the core's `Rand`.

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // Fold a seed of up to 53 bits into the splitmix state, then expand it into four words.
    const st = { s: (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x100000000) | 0, 0x27d4eb2f) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** The next 32 random bits as an unsigned integer. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, n); n must be a positive integer below 2^32. */
  intn(n: number): number {
    if (!(n > 0) || n > 0x100000000 || !Number.isInteger(n)) throw new Error(`intn: bad bound ${n}`);
    // Rejection sampling keeps the distribution exactly uniform.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.next();
      if (x < limit) return x % n;
    }
  }

  /** Uniform in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.intn(hi - lo + 1);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[this.intn(xs.length)]!;
  }

  /** An independent generator derived from this one (for a node, a network, ...). */
  fork(): Prng {
    return new Prng(this.next() * 0x200000 + (this.next() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
