// Renders the config schema as the Markdown reference in docs/configuration.md.
import { envName, schemaLeaves } from './load.ts';

function formatOf(leaf: Record<string, unknown>): string {
  const f = leaf.format;
  if (Array.isArray(f)) return f.map((v) => JSON.stringify(v)).join(' \\| ');
  if (typeof f === 'function') return f.name.toLowerCase();
  return String(f);
}

export function configReferenceMarkdown(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `producer/config/schema.ts` by `conntrail config --reference`; do not edit by hand.',
    'Set keys in a JSON (or JSONC) file given with `--config <file>`, or in the environment: every key has a `CONNTRAIL_*` variable, which wins over the file.',
    '',
    '| key | environment | accepts | default | what it does |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const { path, leaf } of schemaLeaves()) {
    const def = path === 'host.name' ? '(kernel host name)' : JSON.stringify(leaf.default);
    const doc = String(leaf.doc).replace(/\|/g, '\\|');
    lines.push(`| \`${path}\` | \`${envName(path)}\` | ${formatOf(leaf)} | \`${def}\` | ${doc}${leaf.sensitive ? ' (secret: masked when printed)' : ''} |`);
  }
  return lines.join('\n') + '\n';
}
