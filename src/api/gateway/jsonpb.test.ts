import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextValue } from './json_scan.ts';
import {
  base64Std,
  encodeRequest,
  goString,
  JsonpbError,
  jsonName,
  message,
  messageJson,
  namedType,
} from './jsonpb.ts';

const json = (text: string) => {
  const r = nextValue(text, 0, true);
  assert.ok(typeof r === 'object');
  return r.value;
};

const refusal = (text: string, type = 'etcdserverpb.RangeRequest') => {
  try {
    message(json(text), namedType(type));
  } catch (e) {
    assert.ok(e instanceof JsonpbError, String(e));
    return e.message;
  }
  assert.fail(`${text} was taken`);
};

describe('jsonpb', () => {
  test('requests: proto and lowerCamel names, quoted or bare integers, base64, enum names; unknown fields ignored', () => {
    const t = namedType('etcdserverpb.RangeRequest');
    const a = t.decode(
      encodeRequest(json('{"key":"YQ==","range_end":"Yg==","limit":"5","sort_order":"DESCEND","x":1}'), t),
    );
    const b = t.decode(
      encodeRequest(json('{"key":"YQ==","rangeEnd":"Yg==","limit":5,"sort_order":2,"x":{"y":[]}}'), t),
    );
    assert.deepEqual(a.toJSON(), b.toJSON());
    assert.equal(messageJson(a, t), '{"key":"YQ==","range_end":"Yg==","limit":"5","sort_order":"DESCEND"}');
  });

  test("refusals carry Go's texts", () => {
    assert.equal(refusal('{"key":123}'), 'json: cannot unmarshal number into Go value of type []uint8');
    assert.equal(refusal('{"limit":1.5}'), 'json: cannot unmarshal number 1.5 into Go value of type int64');
    assert.equal(refusal('{"limit":true}'), 'json: cannot unmarshal bool into Go value of type int64');
    assert.equal(
      refusal('{"serializable":"true"}'),
      'json: cannot unmarshal string into Go value of type bool',
    );
    assert.equal(
      refusal('{"sort_order":"1"}'),
      'unknown value "1" for enum etcdserverpb.RangeRequest_SortOrder',
    );
    assert.equal(
      refusal('[1]'),
      'json: cannot unmarshal array into Go value of type map[string]json.RawMessage',
    );
    assert.equal(
      refusal('{"compare":{}}', 'etcdserverpb.TxnRequest'),
      'json: cannot unmarshal object into Go value of type []json.RawMessage',
    );
  });

  test("base64 as Go's StdEncoding decodes it, failing at the same byte (each checked on etcd 3.4.23)", () => {
    assert.equal(base64Std('YWJj').toString(), 'abc');
    assert.equal(base64Std('YQ==').toString(), 'a');
    assert.equal(base64Std('Y\nQ==').toString(), 'a');
    for (const [s, n] of [
      ['Zm9', 0],
      ['YQ', 0],
      ['Y===', 1],
      ['YQ==YQ==', 4],
      ['-_==', 0],
      ['YQ=', 3],
    ] as const) {
      assert.throws(() => base64Std(s), { message: `illegal base64 data at input byte ${n}` }, s);
    }
  });

  test('responses: default values left out, a present empty message written, oneof members even when zero', () => {
    const t = namedType('etcdserverpb.TxnResponse');
    const bytes = t
      .encode({
        header: {},
        succeeded: false,
        responses: [{ response_put: {} }, { response_range: { count: 0 } }],
      })
      .finish();
    assert.equal(
      messageJson(t.decode(bytes), t),
      '{"header":{},"responses":[{"response_put":{}},{"response_range":{}}]}',
    );
    const c = namedType('etcdserverpb.Compare');
    assert.equal(
      messageJson(c.decode(c.encode({ key: Buffer.from('a'), version: 0 }).finish()), c),
      '{"key":"YQ==","version":"0"}',
    );
    // An enum value the .proto does not name is written as its number, quoted.
    const e = namedType('mvccpb.Event');
    assert.equal(messageJson(e.decode(e.encode({ type: 7 }).finish()), e), '{"type":"7"}');
  });

  test("strings as Go's encoding/json writes them", () => {
    assert.equal(goString('<a&b>\u2028'), '"\\u003ca\\u0026b\\u003e\\u2028"');
    assert.equal(goString('\b\f\n"\\'), '"\\u0008\\u000c\\n\\"\\\\"');
    assert.equal(jsonName('create_revision'), 'createRevision');
    assert.equal(jsonName('grantedTTL'), 'grantedTTL');
  });
});
