// The differences the auth tests found between tetcd and etcd 3.4, kept in one markdown file for the
// people fixing them: each test file writes its own section (a file of its own under a directory), and
// the summary is rebuilt from every section, so test files running side by side do not lose each other's.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = process.env['AUTHTESTS_DIFFS_DIR'] ?? '/tmp/authtests_diffs.d';
const SUMMARY = process.env['AUTHTESTS_DIFFS'] ?? '/tmp/authtests_diffs.md';

/** Replaces `section`'s list of differences (empty: none) and rewrites the summary. */
export function recordDiffs(section: string, lines: string[]): void {
  try {
    mkdirSync(DIR, { recursive: true });
    const body = lines.length === 0 ? '(no differences)\n' : lines.map((l) => `- ${l}`).join('\n') + '\n';
    writeFileSync(join(DIR, `${section}.md`), `## ${section} (${new Date().toISOString()})\n\n${body}`);
    const parts = readdirSync(DIR)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => readFileSync(join(DIR, f), 'utf8'));
    writeFileSync(SUMMARY, `# tetcd vs etcd 3.4: auth differences\n\n${parts.join('\n')}`);
  } catch {
    // A report that cannot be written must not change a test's outcome.
  }
}
