// `tetcd --help` (the flags grouped as etcd's help groups them, each with what tetcd does with it) and
// `tetcd --version` (etcd's lines with the etcd version tetcd answers as, then tetcd's own version).
import { readFileSync } from 'node:fs';
import { SERVER_VERSION } from '../pkg/version.ts';
import { FLAG_TABLE, envName, statusText, type FlagGroup } from './flag_table.ts';

/** tetcd's own version: package.json's. */
export function tetcdVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const GO_ARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm' };

export function versionText(): string {
  return [
    `etcd Version: ${SERVER_VERSION}`,
    'Git SHA: Not provided (tetcd)',
    `Go Version: none (tetcd runs on Node.js ${process.version})`,
    `Go OS/Arch: ${process.platform}/${GO_ARCH[process.arch] ?? process.arch}`,
    `tetcd Version: ${tetcdVersion()}`,
    '',
  ].join('\n');
}

export function helpText(): string {
  const out = [
    'Usage:',
    '',
    '  tetcd [flags]',
    '    Start a tetcd member (an etcd 3.4-compatible server).',
    '',
    '  tetcd --version',
    "    Show the version of etcd tetcd answers as, and tetcd's own.",
    '',
    '  tetcd -h | --help',
    '    Show this help.',
    '',
    '  tetcd --config-file <path>',
    "    Read the configuration from a YAML file (etcd's keys); other flags and ETCD_* variables are ignored.",
    '',
    'Every flag can also be given as an environment variable: --name as ETCD_NAME, --data-dir as',
    'ETCD_DATA_DIR, and so on. docs/flags.md lists every etcd flag and what tetcd does with it.',
  ];
  let group: FlagGroup | undefined;
  for (const f of FLAG_TABLE) {
    if (f.hidden) continue;
    if (f.group !== group) {
      group = f.group;
      out.push('', `${group}:`);
    }
    const status = f.status === 'implemented' ? '' : ` [${statusText(f)}]`;
    out.push(`  --${f.flag} '${f.def}'`, `    ${f.help} (${envName(f.flag)})${status}`);
  }
  out.push('');
  return out.join('\n');
}
