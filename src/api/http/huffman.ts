// HPACK's static Huffman code (RFC 7541 Appendix B), decode only: the h2 authority rewriter reads
// Huffman-coded header strings to learn their value and decoded length, and writes raw strings.
// The code is canonical, so each symbol's code length alone fixes every code word.

/** Code length in bits of symbols 0..255 and of EOS (256), from RFC 7541 Appendix B. */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const EOS = 256;
const MAX_LEN = 30;

/**
 * Canonical decoding tables: codes of length L are the consecutive integers first[L] ..
 * first[L] + count[L] - 1, naming symbols bySymbol[offset[L] ..] in (length, symbol) order.
 */
const first = new Array<number>(MAX_LEN + 1).fill(0);
const count = new Array<number>(MAX_LEN + 1).fill(0);
const offset = new Array<number>(MAX_LEN + 1).fill(0);
const bySymbol: number[] = [];
{
  for (const len of CODE_LENGTHS) count[len]!++;
  let code = 0;
  for (let len = 1; len <= MAX_LEN; len++) {
    first[len] = code;
    offset[len] = bySymbol.length;
    for (let s = 0; s < CODE_LENGTHS.length; s++) if (CODE_LENGTHS[s] === len) bySymbol.push(s);
    code = (code + count[len]!) * 2;
  }
}

/** Decodes a Huffman-coded string; undefined if it is malformed (EOS, bad padding). */
export function huffmanDecode(src: Uint8Array): Buffer | undefined {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of src) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const k = code - first[len]!;
      if (k >= 0 && k < count[len]!) {
        const sym = bySymbol[offset[len]! + k]!;
        if (sym === EOS) return undefined; // RFC 7541 5.2: EOS in a string is an error
        out.push(sym);
        code = 0;
        len = 0;
      } else if (len === MAX_LEN) return undefined;
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (len > 7 || code !== 2 ** len - 1) return undefined;
  return Buffer.from(out);
}
