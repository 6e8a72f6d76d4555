// A small reader/writer for scenario scripts in the datadriven style:
//
//   # comment
//   cmd arg key=val key=(v1,v2)
//   optional input lines
//   ----
//   expected output
//   <blank line>
//
// An expected output that itself contains blank lines is written between doubled separators
// ("----\n----\n" ... "----\n----\n"). Rewriting keeps comments and commands and replaces outputs only.

export interface CmdArg {
  key: string;
  vals: string[];
}

export interface TestCase {
  /** 1-based line of the command, for error messages. */
  line: number;
  cmd: string;
  args: CmdArg[];
  /** Lines between the command line and the separator, joined with '\n'. */
  input: string;
  /** The command line(s) as written, kept verbatim on rewrite. */
  header: string[];
  expected: string;
}

export type ScriptItem = { kind: 'text'; text: string } | { kind: 'case'; tc: TestCase };

export class ScriptParseError extends Error {
  constructor(file: string, line: number, msg: string) {
    super(`${file}:${line}: ${msg}`);
    this.name = 'ScriptParseError';
  }
}

const SEP = '----';

export function parseArgs(line: string, file = '<script>', lineNo = 0): { cmd: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (/\s/.test(ch) && depth === 0) {
      if (cur !== '') tokens.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0)
    throw new ScriptParseError(file, lineNo, `unbalanced parentheses in ${JSON.stringify(line)}`);
  if (cur !== '') tokens.push(cur);
  const [cmd, ...rest] = tokens;
  if (cmd === undefined) throw new ScriptParseError(file, lineNo, 'empty command');
  const args = rest.map((tok): CmdArg => {
    const eq = tok.indexOf('=');
    if (eq < 0) return { key: tok, vals: [] };
    const key = tok.slice(0, eq);
    let val = tok.slice(eq + 1);
    if (val.startsWith('(') && val.endsWith(')')) {
      val = val.slice(1, -1);
      return { key, vals: val === '' ? [] : val.split(',').map((v) => v.trim()) };
    }
    return { key, vals: [val] };
  });
  return { cmd, args };
}

export function parseScript(text: string, file = '<script>'): ScriptItem[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const items: ScriptItem[] = [];
  let textBuf: string[] = [];
  let i = 0;
  const flushText = (): void => {
    if (textBuf.length > 0) items.push({ kind: 'text', text: textBuf.join('\n') + '\n' });
    textBuf = [];
  };
  while (i < lines.length) {
    const l = lines[i] ?? '';
    if (l.trim() === '' || l.startsWith('#')) {
      textBuf.push(l);
      i++;
      continue;
    }
    flushText();
    const start = i;
    const header: string[] = [];
    while (i < lines.length && lines[i] !== SEP) {
      header.push(lines[i] ?? '');
      i++;
    }
    if (i >= lines.length) throw new ScriptParseError(file, start + 1, 'command without "----" separator');
    i++; // the separator
    const out: string[] = [];
    if (lines[i] === SEP) {
      // Doubled separators: the output runs to the next "----\n----".
      i++;
      while (i < lines.length && !(lines[i] === SEP && lines[i + 1] === SEP)) {
        out.push(lines[i] ?? '');
        i++;
      }
      if (i >= lines.length) throw new ScriptParseError(file, start + 1, 'unterminated "----\\n----" output');
      i += 2;
    } else {
      while (i < lines.length && (lines[i] ?? '').trim() !== '') {
        out.push(lines[i] ?? '');
        i++;
      }
    }
    if (i < lines.length && (lines[i] ?? '').trim() === '') i++; // the blank line ending the case
    const { cmd, args } = parseArgs(header[0] ?? '', file, start + 1);
    items.push({
      kind: 'case',
      tc: {
        line: start + 1,
        cmd,
        args,
        input: header.slice(1).join('\n'),
        header,
        expected: out.length === 0 ? '' : out.join('\n') + '\n',
      },
    });
  }
  flushText();
  return items;
}

/** Writes the script back with `outputs` (one per case, in order) in place of the expected outputs. */
export function formatScript(items: ScriptItem[], outputs: string[]): string {
  const parts: string[] = [];
  let k = 0;
  for (const it of items) {
    if (it.kind === 'text') {
      parts.push(it.text);
      continue;
    }
    const out = outputs[k++] ?? it.tc.expected;
    const body = out.endsWith('\n') ? out : out + '\n';
    const hasBlank = body
      .slice(0, -1)
      .split('\n')
      .some((l) => l.trim() === '');
    parts.push(it.tc.header.join('\n') + '\n');
    if (hasBlank) parts.push(`${SEP}\n${SEP}\n${body}${SEP}\n${SEP}\n\n`);
    else parts.push(`${SEP}\n${body}\n`);
  }
  return parts.join('').replace(/\n+$/, '\n');
}
