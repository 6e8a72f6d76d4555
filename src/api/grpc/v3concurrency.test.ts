import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prefixEnd, sessionKey } from './v3concurrency.ts';

test('prefixEnd bumps the last byte below 0xff and drops trailing 0xff bytes', () => {
  assert.deepEqual(prefixEnd(Buffer.from('lock/')), Buffer.from('lock0'));
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
});

test('sessionKey is <name>/<lease in lowercase hex>, as clientv3 formats it', () => {
  assert.equal(sessionKey(Buffer.from('job'), 0x694d7ab1c2e3f4a5n).toString(), 'job/694d7ab1c2e3f4a5');
  assert.equal(sessionKey(Buffer.alloc(0), 255n).toString(), '/ff');
});
