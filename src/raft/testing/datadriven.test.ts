import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatScript, parseArgs, parseScript } from './datadriven.ts';

test('parseArgs splits positional, key=value and key=(list) arguments', () => {
  const { cmd, args } = parseArgs('add-nodes 3 voters=(1, 2,3) index=10 prevote=true');
  assert.equal(cmd, 'add-nodes');
  assert.deepEqual(args, [
    { key: '3', vals: [] },
    { key: 'voters', vals: ['1', '2', '3'] },
    { key: 'index', vals: ['10'] },
    { key: 'prevote', vals: ['true'] },
  ]);
});

test('a script round-trips through parse and format, comments and inputs kept', () => {
  const text = [
    '# leading comment',
    '',
    'campaign 1',
    '----',
    'ok',
    '',
    '# between',
    'propose-conf-change 1',
    'v2 v3',
    '----',
    'line one',
    'line two',
    '',
    'stabilize',
    '----',
    '----',
    'has',
    '',
    'a blank line',
    '----',
    '----',
    '',
  ].join('\n');
  const items = parseScript(text);
  const cases = items.flatMap((it) => (it.kind === 'case' ? [it.tc] : []));
  assert.equal(cases.length, 3);
  assert.equal(cases[1]?.input, 'v2 v3');
  assert.equal(cases[1]?.expected, 'line one\nline two\n');
  assert.equal(cases[2]?.expected, 'has\n\na blank line\n');
  assert.equal(cases[2]?.line, 14);
  assert.equal(
    formatScript(
      items,
      cases.map((c) => c.expected),
    ),
    text,
  );
});

test('formatScript replaces outputs only', () => {
  const items = parseScript('tick 1\n----\nold\n');
  assert.equal(formatScript(items, ['new\n']), 'tick 1\n----\nnew\n');
});

test('a command without a separator is an error naming the line', () => {
  assert.throws(() => parseScript('# c\ncampaign 1\n', 'f.txt'), /f\.txt:2/);
});
