// How tetcdutl prints a snapshot's status: etcdctl 3.4's `snapshot status` formats (simple, table,
// json, fields), byte for byte, and go-humanize's Bytes for the size.
import type { SnapshotStatus } from '../snap/etcd_file.ts';

export const WRITE_OUT = ['simple', 'table', 'json', 'fields'] as const;
export type WriteOut = (typeof WRITE_OUT)[number];

const SIZES = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

/** go-humanize's Bytes: SI units, one decimal below 10 ("1.5 MB", "86 kB", "512 B"). */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / Math.pow(1000, e)) * 10 + 0.5) / 10;
  if (val < 10) return `${val.toFixed(1)} ${SIZES[e]}`;
  // Go's %.0f rounds an exact half to even (20.5 -> "20"); toFixed rounds it up.
  const whole = Math.floor(val);
  const rounded = val - whole === 0.5 ? (whole % 2 === 0 ? whole : whole + 1) : Math.round(val);
  return `${rounded} ${SIZES[e]}`;
}

/** tablewriter as etcdctl sets it up: centred headers, right-aligned cells, +---+ borders. */
function table(header: string[], row: string[]): string {
  const w = header.map((h, i) => Math.max(h.length, row[i]!.length));
  const line = '+' + w.map((n) => '-'.repeat(n + 2)).join('+') + '+\n';
  const centre = (s: string, n: number) => {
    const pad = n - s.length;
    const left = Math.floor(pad / 2);
    return ' '.repeat(left) + s + ' '.repeat(pad - left);
  };
  const head = '|' + header.map((h, i) => ` ${centre(h, w[i]!)} `).join('|') + '|\n';
  const body = '|' + row.map((c, i) => ` ${c.padStart(w[i]!)} `).join('|') + '|\n';
  return line + head + line + body + line;
}

export interface HashKVResult {
  hash: number;
  hashRevision: number;
  compactRevision: number;
}

/** etcdutl's `hashkv` (3.6's printers: the hash in decimal). */
export function formatHashKV(r: HashKVResult, w: WriteOut): string {
  const row = [String(r.hash), String(r.hashRevision), String(r.compactRevision)];
  switch (w) {
    case 'json':
      return (
        JSON.stringify({ hash: r.hash, hashRevision: r.hashRevision, compactRevision: r.compactRevision }) +
        '\n'
      );
    case 'table':
      return table(['HASH', 'HASH REVISION', 'COMPACT REVISION'], row);
    case 'fields':
      return `"Hash" : ${r.hash}\n"Hash revision" : ${r.hashRevision}\n"Compact revision" : ${r.compactRevision}\n`;
    default:
      return row.join(', ') + '\n';
  }
}

export function formatStatus(s: SnapshotStatus, w: WriteOut): string {
  const hex = s.hash.toString(16);
  switch (w) {
    case 'json':
      return (
        JSON.stringify({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }) +
        '\n'
      );
    case 'table':
      return table(
        ['HASH', 'REVISION', 'TOTAL KEYS', 'TOTAL SIZE'],
        [hex, String(s.revision), String(s.totalKey), humanBytes(s.totalSize)],
      );
    case 'fields':
      return `"Hash" : ${s.hash}\n"Revision" : ${s.revision}\n"Keys" : ${s.totalKey}\n"Size" : ${s.totalSize}\n`;
    default:
      return `${hex}, ${s.revision}, ${s.totalKey}, ${humanBytes(s.totalSize)}\n`;
  }
}
