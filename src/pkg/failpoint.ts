// Named crash points at durability boundaries (DESIGN.md decision 7). Off unless the environment
// variable TETCD_FAILPOINTS names them, e.g. TETCD_FAILPOINTS="walAfterSave=crash@20" crashes the
// process (SIGKILL-like exit, no cleanup) the 20th time `walAfterSave` is reached.

interface Armed {
  action: 'crash';
  after: number;
  hits: number;
}

const armed = new Map<string, Armed>();

for (const spec of (process.env['TETCD_FAILPOINTS'] ?? '').split(',')) {
  const m = /^\s*([A-Za-z0-9_]+)=(crash)(?:@(\d+))?\s*$/.exec(spec);
  if (m) armed.set(m[1]!, { action: 'crash', after: Number(m[3] ?? 1), hits: 0 });
}

/** Marks a failpoint; does nothing unless armed. */
export function failpoint(name: string): void {
  if (armed.size === 0) return;
  const a = armed.get(name);
  if (!a) return;
  a.hits++;
  if (a.hits >= a.after) process.kill(process.pid, 'SIGKILL');
}
