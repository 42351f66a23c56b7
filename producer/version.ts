// conntrail's version: package.json's, read once (the package ships package.json beside producer/).
import fs from 'node:fs';

let version: string | undefined;
export function conntrailVersion(): string {
  version ??= String((JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  return version;
}
