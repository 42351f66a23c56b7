// Renders the config schema as the Markdown reference in docs/configuration.md.
import { envName, expectedOf, schemaLeaves } from './load.ts';

function formatOf(leaf: Record<string, unknown>): string {
  const f = leaf.format;
  if (Array.isArray(f)) return f.map((v) => JSON.stringify(v)).join(' \\| ');
  return expectedOf(leaf).replace(/\|/g, '\\|');
}

export function configReferenceMarkdown(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `producer/config/schema.ts` by `conntrail config --reference`; do not edit by hand.',
    'Set keys in a JSON (or JSONC) file given with `--config <file>`, or in the environment: every key has a `CONNTRAIL_*` variable, which wins over the file.',
    'A file gives JSON values of the key\'s own type (`true`, not `"true"` or `"yes"`; `10`, not `"10"`). The environment gives text: booleans as `true`, `false`, `1` or `0`; numbers as digits; lists comma-separated or as a JSON list.',
    'Every value is checked before anything starts, and so are the rules between keys (e.g. `kafka.idempotent` needs `kafka.acks` -1, `kafka.batch.maxInFlight` 1 and `kafka.retry.retries` at least 1; a `kafka.sasl.mechanism` needs a user name and password; `kafka.ssl.*File` needs `kafka.ssl.enabled`). A bad config exits with code 2 and one line naming the key, the value given and what is expected.',
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
