// Deliberate bugs for the robustness suite (issue 17), to show its checkers catch them. Off unless the
// environment variable TETCD_SABOTAGE names them (comma-separated); nothing else turns them on. Never
// set it on a member holding data you care about.
//   stale-read   linearizable Ranges skip the ReadIndex barrier (served from local, maybe stale, state)
//   watch-skip   one synced watcher misses the events of one revision (the first at or above 100)

export type Sabotage = 'stale-read' | 'watch-skip';

const named = new Set(
  (process.env['TETCD_SABOTAGE'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

/** True when TETCD_SABOTAGE names `s`. */
export function sabotaged(s: Sabotage): boolean {
  return named.has(s);
}
