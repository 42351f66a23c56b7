// The real `conntrail run` on a terminal (a pty from util-linux's `script`)
// writes pino-pretty's human-readable lines; into a pipe (the journal, a
// file) it writes JSON, one object per line. Either way the first line says
// which probe attached. Kafka is a closed port with no retries, so the run
// ends by itself (exit 1, "Kafka is unreachable") right after attaching.
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeLocalPort } from '../helpers/conntrail-process.ts';
import { integrationTest } from '../helpers/require.ts';

const hasScript = spawnSync('script', ['--version']).status === 0;

async function configFile(): Promise<string> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-log-')), `${randomUUID()}.json`);
  fs.writeFileSync(file, JSON.stringify({
    kafka: { brokers: [`127.0.0.1:${await freeLocalPort()}`], retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 100 } },
    encoding: { format: 'ecs-json' },
    telemetry: { enabled: false, prometheusPort: 0 },
    log: { statsIntervalSec: 0 },
  }));
  return file;
}

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 90_000, env: { ...process.env, TERM: 'xterm-256color' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

// eslint-disable-next-line no-control-regex
const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

await integrationTest('on a terminal: pino-pretty lines, the first saying which probe attached', ['root', 'bpf'], async (t) => {
  if (!hasScript) {
    t.fail('util-linux `script` is needed to give conntrail a terminal');
    return;
  }
  const cfg = await configFile();
  const cmd = [process.execPath, 'producer/cli.ts', 'run', '--config', cfg].map((a) => `'${a}'`).join(' ');
  const r = await run('script', ['-qec', cmd, '/dev/null']);
  const lines = plain(r.stdout).split('\n').filter((l) => l.trim() !== '');
  t.is(r.code, 1, r.stdout);
  t.regex(lines[0] ?? '', /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: conntrail capture: connect probe \w+ attached /, lines.join('\n'));
  t.false(lines.some((l) => l.startsWith('{')), 'no JSON line on a terminal');
  t.true(lines.some((l) => /^\[[\d:.]+\] WARN: Connection error: connect ECONNREFUSED/.test(l)), 'kafkajs connection errors are warnings');
  t.false(lines.some((l) => /\] ERROR: /.test(l)), 'no error-level line for what kafkajs retries');
  t.true(lines.some((l) => /^conntrail: Kafka is unreachable at 127\.0\.0\.1:\d+/.test(l)), 'the one-line reason for exit 1');
});

await integrationTest('into a pipe: JSON lines, the first saying which probe attached', ['root', 'bpf'], async (t) => {
  const r = await run(process.execPath, ['producer/cli.ts', 'run', '--config', await configFile()]);
  t.is(r.code, 1);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; name: string });
  t.regex(parsed[0]!.msg, /^conntrail capture: connect probe \w+ attached /);
  t.true(parsed.every((p) => p.name === 'conntrail' && typeof p.level === 'number'));
  t.false(parsed.some((p) => p.level >= 50), lines.filter((l) => /"level":50/.test(l)).join('\n'));
  t.regex(r.stderr, /^conntrail: Kafka is unreachable at 127\.0\.0\.1:\d+/m);
});
