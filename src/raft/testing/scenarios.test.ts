// Runs every scenario script in src/raft/testdata/ against the interaction harness and compares each
// command's output with the expected text. `UPDATE=1` rewrites the expected outputs instead; read every
// resulting diff before committing it: the expected output must be what Raft should do.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatScript, parseScript } from './datadriven.ts';
import { InteractionEnv } from './interaction_env.ts';
import { runCommand } from './interaction_handlers.ts';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'testdata');
const update = process.env['UPDATE'] === '1';
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('there are scenario scripts', () => {
  assert.ok(files.length >= 10, `only ${files.length} scripts in ${dir}`);
});

for (const f of files) {
  test(`scenario ${f}`, () => {
    const path = join(dir, f);
    const items = parseScript(readFileSync(path, 'utf8'), f);
    const env = new InteractionEnv();
    const outputs: string[] = [];
    for (const it of items) {
      if (it.kind !== 'case') continue;
      let actual: string;
      try {
        actual = runCommand(env, it.tc);
      } catch (err) {
        if (update) writeFileSync(path, formatScript(items, outputs));
        throw new Error(`${f}:${it.tc.line}: ${it.tc.header[0]}: ${String(err)}`, { cause: err });
      }
      outputs.push(actual);
      if (!update) {
        assert.equal(actual, it.tc.expected, `${f}:${it.tc.line}: ${it.tc.header[0]}`);
      }
    }
    if (update) writeFileSync(path, formatScript(items, outputs));
  });
}
