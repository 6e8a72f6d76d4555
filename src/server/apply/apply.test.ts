import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type Entry } from '../../raft/index.ts';
import { ClientError, InvariantError } from '../../pkg/errors.ts';
import { ErrCompacted } from '../../mvcc/errors.ts';
import { ErrLeaseNotFound, ErrNoSpace } from '../errors.ts';
import { Proposer } from '../propose.ts';
import { Op } from '../raft_request.ts';
import type { PutRequest } from '../../proto/etcdserverpb.ts';
import { applyEntries, type ApplyDeps } from './apply.ts';
import type { Applier, ApplyPosition } from './applier.ts';

/**
 * Proposes one put per key through a real Proposer and turns the proposals into entries 1..n. The
 * applier's put answers by key: `throws[key]` is thrown, any other key succeeds.
 */
function setup(keys: string[], throws: Record<string, () => Error>) {
  const proposed: Uint8Array[] = [];
  const proposer = new Proposer(
    { propose: (data) => proposed.push(data), pending: () => 0 },
    1n,
    0,
    1000,
    () => 0,
  );
  const outcomes: string[] = [];
  const settled = keys.map((k) => {
    const req: PutRequest = {
      key: Buffer.from(k),
      value: Buffer.from('v'),
      lease: 0,
      prevKv: false,
      ignoreValue: false,
      ignoreLease: false,
    };
    return proposer.propose(Op.Put, Buffer.alloc(0), req).then(
      () => outcomes.push(`${k} ok`),
      (err: unknown) => outcomes.push(`${k} ${(err as Error).name}`),
    );
  });
  const applied: string[] = [];
  const applier = {
    position: { index: 0, term: 0 } as ApplyPosition,
    put(req: PutRequest) {
      const k = Buffer.from(req.key).toString();
      const make = throws[k];
      if (make) throw make();
      applied.push(k);
      return { header: { revision: applier.position.index } };
    },
  } as unknown as Applier & { position: ApplyPosition };
  const commits: number[] = [];
  const deps: ApplyDeps = {
    applier: () => applier,
    setPosition: (p) => (applier.position = p),
    onNoSpace: () => undefined,
    proposer,
    appliedIndex: () => 0,
    applyConfChange: () => assert.fail('no conf change here'),
    applyEmpty: () => assert.fail('no empty entry here'),
    applyAuth: () => assert.fail('no auth entries here'),
    applyAttributes: () => assert.fail('no attributes here'),
    commitBackend: () => commits.push(1),
  };
  const entries: Entry[] = proposed.map((data, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.EntryNormal,
    data,
  }));
  return { deps, entries, applied, outcomes, commits, settled };
}

test('a ClientError rejects only its own waiter; the entries after it still apply', async () => {
  const s = setup(['a', 'b', 'c', 'd'], {
    b: () => new ErrLeaseNotFound(),
    // A request's store error keeps its "mvcc: " message: its class, not the text, makes it a client's.
    c: () => new ErrCompacted(),
  });
  assert.ok(new ErrCompacted() instanceof ClientError);
  s.commits.push(applyEntries(s.deps, s.entries));
  await Promise.all(s.settled);
  assert.deepEqual(s.applied, ['a', 'd']);
  assert.deepEqual(s.outcomes, ['a ok', 'b ErrLeaseNotFound', 'c ErrCompacted', 'd ok']);
  assert.deepEqual(s.commits, [1, 4], 'one backend commit; the index of the last entry applied is returned');
});

test('a plain Error whose message starts with "mvcc: " is rethrown: message text never decides', async () => {
  const bug = new Error('mvcc: index points at revision 5_0 that is not stored');
  const s = setup(['a', 'b', 'c'], { b: () => bug });
  assert.throws(
    () => applyEntries(s.deps, s.entries),
    (err) => err === bug,
  );
  assert.deepEqual(s.applied, ['a'], 'nothing after the broken entry applies');
  assert.deepEqual(s.commits, [], 'the backend batch is not committed and the applied index stays');
  await s.settled[0];
  await new Promise((r) => setImmediate(r));
  // The broken entry's waiter was taken, not rejected: the member stops instead of answering it.
  assert.deepEqual(s.outcomes, ['a ok'], 'b and c are never answered');
});

test('an InvariantError is rethrown too', () => {
  const s = setup(['a'], { a: () => new InvariantError('mvcc: tombstone on unknown key a') });
  assert.throws(() => applyEntries(s.deps, s.entries), InvariantError);
  assert.deepEqual(s.commits, []);
});

test('ErrNoSpace raises NOSPACE (once the raise settles the waiter is answered); with NOSPACE raised, at once', async () => {
  const s = setup(['a', 'b', 'c'], { a: () => new ErrNoSpace(), c: () => new ErrNoSpace() });
  let raised = false;
  let release: (() => void) | undefined;
  const raises: string[] = [];
  s.deps.onNoSpace = () => {
    if (raised) return undefined;
    raised = true;
    raises.push('raise');
    return new Promise<void>((r) => (release = r));
  };
  applyEntries(s.deps, s.entries);
  await s.settled[1];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(raises, ['raise'], 'the alarm is raised once: c finds it raised');
  assert.deepEqual(s.outcomes, ['b ok', 'c ErrNoSpace'], "a's answer waits for the alarm's proposal");
  release!();
  await Promise.all(s.settled);
  assert.deepEqual(s.outcomes, ['b ok', 'c ErrNoSpace', 'a ErrNoSpace']);
});
