// A JSON reader that fails as Go's encoding/json does (etcd 3.4's gateway decodes request bodies with
// a json.Decoder): the same error texts ("invalid character 'b' looking for beginning of object key
// string", "unexpected EOF", "... exceeded max depth"), the same nesting bound (10,000), and one value
// at a time from a stream (the Watch and LeaseKeepAlive bodies hold a value per request). Numbers keep
// their text, so 64-bit integers are converted exactly later (jsonpb.ts).

/** Go's encoding/json nesting limit. */
export const MAX_DEPTH = 10_000;

export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

/** An object's members; a repeated name keeps its last value, as Go's map does. */
export type JsonObject = Map<string, JsonValue>;

/** A request body Go's decoder refuses; `message` is Go's text. */
export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Thrown inside the parser when the input ends inside a value that more input could complete. */
class Incomplete {}
const INCOMPLETE = new Incomplete();

/** Go's quoteChar: how its scanner names a character in an error. */
export function quoteChar(c: string): string {
  // Go's scanner reads bytes: a character beyond ASCII is named by its first UTF-8 byte, as a rune.
  if (c.charCodeAt(0) >= 0x80) {
    const b = Buffer.from(String.fromCodePoint(c.codePointAt(0)!))[0]!;
    return b < 0xa0 || b === 0xad ? `'\\u00${b.toString(16)}'` : `'${String.fromCharCode(b)}'`;
  }
  if (c === "'") return `'\\''`;
  if (c === '"') return `'"'`;
  const code = c.charCodeAt(0);
  if (code < 0x20 || code === 0x7f) {
    const esc: Record<number, string> = {
      7: '\\a',
      8: '\\b',
      9: '\\t',
      10: '\\n',
      11: '\\v',
      12: '\\f',
      13: '\\r',
    };
    return `'${esc[code] ?? '\\x' + code.toString(16).padStart(2, '0')}'`;
  }
  return `'${c}'`;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

class Parser {
  pos: number;
  private depth = 0;

  constructor(
    private readonly s: string,
    start: number,
    /** No more input will come: running out is "unexpected EOF". */
    private readonly final: boolean,
    /** json.Unmarshal's reading: the end of input is a space to its scanner (it cuts numbers so). */
    private readonly whole = false,
  ) {
    this.pos = start;
  }

  private bad(what: string): never {
    const c = String.fromCodePoint(this.s.codePointAt(this.pos)!);
    throw new JsonSyntaxError(`invalid character ${quoteChar(c)} ${what}`);
  }

  private more(): never {
    if (this.final) throw new JsonSyntaxError('unexpected EOF');
    throw INCOMPLETE;
  }

  private skipSpace(): void {
    while (this.pos < this.s.length && isSpace(this.s.charCodeAt(this.pos))) this.pos++;
  }

  private push(): void {
    if (++this.depth > MAX_DEPTH) this.bad('exceeded max depth');
  }

  /**
   * One value. Containers are kept on an explicit stack, not the call stack: 10,000 levels are
   * valid JSON for Go and must not overflow ours.
   */
  value(): JsonValue {
    const s = this.s;
    const stack: ({ map: JsonObject; key: string } | { arr: JsonValue[] })[] = [];
    for (;;) {
      this.skipSpace();
      if (this.pos >= s.length) this.more();
      const c = s[this.pos]!;
      let v: JsonValue;
      if (c === '{' || c === '[') {
        this.push();
        this.pos++;
        this.skipSpace();
        if (this.pos >= s.length) this.more();
        if (s[this.pos] === (c === '{' ? '}' : ']')) {
          this.pos++;
          this.depth--;
          v = c === '{' ? new Map() : [];
        } else {
          stack.push(c === '{' ? { map: new Map(), key: this.key() } : { arr: [] });
          continue;
        }
      } else v = this.scalar(c);
      // Close every container this value completes.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return v;
        if ('map' in top) top.map.set(top.key, v);
        else top.arr.push(v);
        this.skipSpace();
        if (this.pos >= s.length) this.more();
        const d = s[this.pos];
        if (d === ',') {
          this.pos++;
          if ('map' in top) top.key = this.key();
          break;
        }
        if (d !== ('map' in top ? '}' : ']'))
          this.bad('map' in top ? 'after object key:value pair' : 'after array element');
        this.pos++;
        this.depth--;
        stack.pop();
        v = 'map' in top ? top.map : top.arr;
      }
    }
  }

  /** An object member's name and its colon. */
  private key(): string {
    this.skipSpace();
    if (this.pos >= this.s.length) this.more();
    if (this.s[this.pos] !== '"') this.bad('looking for beginning of object key string');
    const key = this.string();
    this.skipSpace();
    if (this.pos >= this.s.length) this.more();
    if (this.s[this.pos] !== ':') this.bad('after object key');
    this.pos++;
    return key;
  }

  private scalar(c: string): JsonValue {
    switch (c) {
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || isDigit(c.charCodeAt(0))) return this.number();
        return this.bad('looking for beginning of value');
    }
  }

  private literal<T>(word: string, v: T): T {
    for (let i = 0; i < word.length; i++, this.pos++) {
      if (this.pos >= this.s.length) this.more();
      if (this.s[this.pos] !== word[i]) this.bad(`in literal ${word} (expecting ${quoteChar(word[i]!)})`);
    }
    return v;
  }

  /** A number cut by the end of input: Unmarshal's scanner sees a space there. */
  private cut(what: string): never {
    if (this.whole) throw new JsonSyntaxError(`invalid character ' ' ${what}`);
    this.more();
  }

  /** A number ends at the first character that cannot continue it (more input could, when not final). */
  private number(): JsonNumber {
    const start = this.pos;
    const s = this.s;
    const at = () => (this.pos < s.length ? s.charCodeAt(this.pos) : -1);
    const end = () => {
      if (this.pos >= s.length && !this.final) throw INCOMPLETE;
    };
    if (at() === 0x2d) {
      this.pos++;
      if (at() < 0) this.cut('in numeric literal');
      if (!isDigit(at())) this.bad('in numeric literal');
    }
    if (at() === 0x30) this.pos++;
    else while (isDigit(at())) this.pos++;
    if (at() === 0x2e) {
      this.pos++;
      if (at() < 0) this.cut('after decimal point in numeric literal');
      if (!isDigit(at())) this.bad('after decimal point in numeric literal');
      while (isDigit(at())) this.pos++;
    }
    if (at() === 0x65 || at() === 0x45) {
      this.pos++;
      if (at() === 0x2b || at() === 0x2d) this.pos++;
      if (at() < 0) this.cut('in exponent of numeric literal');
      if (!isDigit(at())) this.bad('in exponent of numeric literal');
      while (isDigit(at())) this.pos++;
    }
    end();
    return new JsonNumber(s.slice(start, this.pos));
  }

  private string(): string {
    this.pos++;
    const s = this.s;
    let out = '';
    let from = this.pos;
    let escaped = false;
    for (;;) {
      if (this.pos >= s.length) this.more();
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(from, this.pos);
        this.pos++;
        return escaped ? wellFormed(out) : out;
      }
      if (c < 0x20) this.bad('in string literal');
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(from, this.pos);
      this.pos++;
      if (this.pos >= s.length) this.more();
      const e = s[this.pos]!;
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e in simple) {
        out += simple[e];
        this.pos++;
      } else if (e === 'u') {
        escaped = true;
        this.pos++;
        for (let i = 0; i < 4; i++) {
          if (this.pos + i >= s.length) {
            this.pos += i;
            this.more();
          }
          if (!/[0-9a-fA-F]/.test(s[this.pos + i]!)) {
            this.pos += i;
            this.bad('in \\u hexadecimal character escape');
          }
        }
        out += String.fromCharCode(parseInt(s.slice(this.pos, this.pos + 4), 16));
        this.pos += 4;
      } else this.bad('in string escape code');
      from = this.pos;
    }
  }
}

/** Go turns lone surrogates into U+FFFD; JSON text may carry them as \u escapes. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

export type Next = { value: JsonValue; end: number } | 'eof' | 'more';

/**
 * The next value of `s` from `start`, as a json.Decoder reads a stream: 'eof' when only white space
 * is left and `final`; 'more' when the value may continue in input not yet here. Throws
 * JsonSyntaxError with Go's text.
 */
export function nextValue(s: string, start: number, final: boolean): Next {
  const p = new Parser(s, start, final);
  let i = start;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  if (i >= s.length) return final ? 'eof' : 'more';
  try {
    const value = p.value();
    return { value, end: p.pos };
  } catch (err) {
    if (err === INCOMPLETE) return 'more';
    throw err;
  }
}

/**
 * One whole value that must be all of `s` (Go's json.Unmarshal, used by jsonpb on a field's text):
 * trailing text is "invalid character 'x' after top-level value".
 */
export function parseWhole(s: string): JsonValue {
  const p = new Parser(s, 0, true, true);
  let v: JsonValue;
  try {
    v = p.value();
  } catch (err) {
    if (err instanceof JsonSyntaxError && err.message === 'unexpected EOF') {
      throw new JsonSyntaxError('unexpected end of JSON input');
    }
    throw err;
  }
  let i = p.pos;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  if (i < s.length)
    throw new JsonSyntaxError(
      `invalid character ${quoteChar(String.fromCodePoint(s.codePointAt(i)!))} after top-level value`,
    );
  return v;
}
