import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonNumber, JsonSyntaxError, nextValue, parseWhole, quoteChar } from './json_scan.ts';

const err = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof JsonSyntaxError, String(e));
    return e.message;
  }
  assert.fail('no error');
};

describe('json_scan', () => {
  test("syntax errors carry Go's encoding/json texts", () => {
    const cases: [string, string][] = [
      ['{bad', "invalid character 'b' looking for beginning of object key string"],
      ['{"a" 1}', "invalid character '1' after object key"],
      ['{"a":1 "b":2}', `invalid character '"' after object key:value pair`],
      ['[1 2]', "invalid character '2' after array element"],
      ['tru ', "invalid character ' ' in literal true (expecting 'e')"],
      ['nul', 'unexpected EOF'],
      ['-x', "invalid character 'x' in numeric literal"],
      ['1.x', "invalid character 'x' after decimal point in numeric literal"],
      ['1ex', "invalid character 'x' in exponent of numeric literal"],
      ['"a\\x"', "invalid character 'x' in string escape code"],
      ['"\\u12g4"', "invalid character 'g' in \\u hexadecimal character escape"],
      ['"a\nb"', "invalid character '\\n' in string literal"],
      ["'a'", "invalid character '\\'' looking for beginning of value"],
      ['\ufeff{}', "invalid character 'ï' looking for beginning of value"],
      ['{"a":', 'unexpected EOF'],
      ['['.repeat(10_001), "invalid character '[' exceeded max depth"],
    ];
    for (const [text, want] of cases)
      assert.equal(
        err(() => nextValue(text, 0, true)),
        want,
        text,
      );
  });

  test('10,000 levels are valid; values keep number text and the last of a repeated name', () => {
    const r = nextValue('['.repeat(10_000) + ']'.repeat(10_000), 0, true);
    assert.ok(typeof r === 'object');
    const o = nextValue('{"a":1,"a":12345678901234567890,"b":[true,null,"x\\u00e9"]}', 0, true);
    assert.ok(typeof o === 'object' && o.value instanceof Map);
    assert.deepEqual(o.value.get('a'), new JsonNumber('12345678901234567890'));
    assert.deepEqual(o.value.get('b'), [true, null, 'xé']);
  });

  test('a stream is read one value at a time; an unfinished one waits for more input', () => {
    const text = '{"a":1} {"b":';
    const first = nextValue(text, 0, false);
    assert.ok(typeof first === 'object');
    assert.equal(nextValue(text, first.end, false), 'more');
    assert.equal(
      err(() => nextValue(text, first.end, true)),
      'unexpected EOF',
    );
    // A number at the end may go on: it is complete only once the input is.
    assert.equal(nextValue('12', 0, false), 'more');
    assert.deepEqual(nextValue('12', 0, true), { value: new JsonNumber('12'), end: 2 });
    assert.equal(nextValue('  \n', 0, true), 'eof');
    assert.equal(nextValue('  \n', 0, false), 'more');
  });

  test("json.Unmarshal's reading: trailing text refused, a cut number is a space to the scanner", () => {
    assert.equal(
      err(() => parseWhole('1 x')),
      "invalid character 'x' after top-level value",
    );
    assert.equal(
      err(() => parseWhole('-')),
      "invalid character ' ' in numeric literal",
    );
    assert.equal(
      err(() => parseWhole('')),
      'unexpected end of JSON input',
    );
    assert.equal(
      err(() => parseWhole('"abc')),
      'unexpected end of JSON input',
    );
  });

  test("quoteChar names characters as Go's scanner does", () => {
    assert.equal(quoteChar('a'), "'a'");
    assert.equal(quoteChar('\t'), "'\\t'");
    assert.equal(quoteChar('\x01'), "'\\x01'");
    assert.equal(quoteChar('\u0085'), "'Â'");
    assert.equal(quoteChar('é'), "'Ã'");
  });
});
