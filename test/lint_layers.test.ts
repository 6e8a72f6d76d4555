// The layer rule of eslint.config.js (scripts/eslint_layers.mjs) on fixture sources: ESLint lints each
// text as if it were a file at the given path under src/, with the repository's own configuration
// (type-aware rules off: the fixture files exist only here), and an upward import must be an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const root = new URL('..', import.meta.url).pathname;

const eslint = new ESLint({
  cwd: root,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parserOptions: { projectService: false } },
      rules: { '@typescript-eslint/no-floating-promises': 'off' },
    },
  ],
});

/** The layer errors ESLint reports for `code` placed at `path` (relative to the repository). */
async function layerErrors(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  assert.ok(result);
  return result.messages.filter((m) => m.ruleId === 'layers/imports').map((m) => m.message);
}

test('an upward import fails lint: mvcc may not import the server', async () => {
  const errors = await layerErrors(
    'src/mvcc/upward_fixture.ts',
    "import type { EtcdServer } from '../server/server.ts';\nexport type X = EtcdServer;\n",
  );
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /mvcc\/ may not import server\/server\.ts/);
});

test('the API sees the server only through server/api.ts and error classes', async () => {
  const ok = await layerErrors(
    'src/api/grpc/fixture.ts',
    [
      "import type { RaftKV } from '../../server/api.ts';",
      "import { ErrStopped } from '../../server/errors.ts';",
      "import { ErrCompacted } from '../../mvcc/errors.ts';",
      "import { toNumber } from '../../proto/index.ts';",
      "import type { StreamOut } from './router.ts';",
      'export type X = [RaftKV, ErrStopped, ErrCompacted, typeof toNumber, StreamOut];',
      '',
    ].join('\n'),
  );
  assert.deepEqual(ok, []);
  const bad = await layerErrors(
    'src/api/grpc/fixture.ts',
    [
      "import type { EtcdServer } from '../../server/server.ts';",
      "import type { KVServer } from '../../server/kv_server.ts';",
      "import type { KVStore } from '../../mvcc/kvstore.ts';",
      "import type { Backend } from '../../backend/backend.ts';",
      'export type X = [EtcdServer, KVServer, KVStore, Backend];',
      '',
    ].join('\n'),
  );
  assert.equal(bad.length, 4, bad.join('\n'));
});

test('lower layers: raft imports nothing outside raft/, the others only what the table allows', async () => {
  assert.equal(
    (await layerErrors('src/raft/fixture.ts', "export { crc32c } from '../pkg/crc32c.ts';\n")).length,
    1,
  );
  assert.deepEqual(
    await layerErrors('src/wal/fixture.ts', "export { encodeMessage } from '../raft/raftpb_codec.ts';\n"),
    [],
    "raft's wire codec is part of the base",
  );
  assert.equal(
    (await layerErrors('src/wal/fixture.ts', "export { RawNode } from '../raft/rawnode.ts';\n")).length,
    1,
  );
  assert.equal(
    (await layerErrors('src/lease/fixture.ts', "export { Proposer } from '../server/propose.ts';\n")).length,
    1,
  );
  assert.equal(
    (await layerErrors('src/server/fixture.ts', "export { kvService } from '../api/grpc/kv.ts';\n")).length,
    1,
    'the server never imports the API above it',
  );
});

test('tests are exempt', async () => {
  assert.deepEqual(
    await layerErrors('src/mvcc/fixture.test.ts', "export { EtcdServer } from '../server/server.ts';\n"),
    [],
  );
});

test('only server/apply/ moves the applied index', async () => {
  const code =
    'export const f = (kv: { setConsistentIndex(i: number, t: number): void }) => kv.setConsistentIndex(1, 1);\n';
  const rules = async (path: string) => {
    const [result] = await eslint.lintText(code, { filePath: join(root, path) });
    return result!.messages.map((m) => m.ruleId);
  };
  assert.deepEqual(await rules('src/server/fixture.ts'), ['no-restricted-syntax']);
  assert.deepEqual(await rules('src/server/apply/fixture.ts'), []);
});
