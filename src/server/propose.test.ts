import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Proposer } from './propose.ts';
import { Op, peekRaftRequest } from './raft_request.ts';

function proposerAt(now: number): { ids: () => bigint[]; p: Proposer } {
  const logged: Uint8Array[] = [];
  const p = new Proposer({ propose: (d) => logged.push(d), pending: () => 0 }, 0xabcdn, now, 7000, () => 0);
  const ids = () => logged.map((d) => peekRaftRequest(d)!.id);
  return { ids, p };
}

test('proposal ids keep the member bits and a time part for any clock value (bit 31 of now set too)', () => {
  for (const now of [1_700_000_000_000, 2 ** 31 + 5, 2 ** 40 - 1, 0x80000000 * 1000 + 123]) {
    const { ids, p } = proposerAt(now);
    p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x61]), {}).catch(() => {});
    p.propose(Op.Put, Buffer.from([0x0a, 0x01, 0x62]), {}).catch(() => {});
    const [a, b] = ids();
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a >> 48n, 0xabcdn, `member bits for now=${now}`);
    assert.equal((a >> 8n) & 0xffffffffffn, BigInt(now) & 0xffffffffffn, `time bits for now=${now}`);
    assert.equal(b, a + 1n);
    assert.ok(p.take(a) !== undefined, 'the waiter is found by the id that went into the log');
    p.failAll(new Error('done'));
  }
});
