// The command line as a user meets it: one clear line and a non-zero exit for bad config.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-cli-'));
function conntrail(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['producer/cli.ts', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function configFile(body: unknown): string {
  const file = path.join(tmp, `c${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(body));
  return file;
}

for (const [name, body, expected] of [
  ['a string for a number', { kafka: { batch: { maxRecords: 'many' } } }, 'conntrail: bad config: kafka.batch.maxRecords = "many": expected a whole number from 1 to 1000000\n'],
  ['no retries with the idempotent producer (kafkajs threw at startup, exit 70)', { kafka: { retry: { retries: 0 } } }, 'conntrail: bad config: kafka.retry.retries = 0: expected at least 1 while kafka.idempotent is true (the idempotent producer must be allowed to retry a send); set kafka.retry.retries to 1 or more or kafka.idempotent to false\n'],
  ['an unknown key', { telemetry: { enable: true } }, 'conntrail: bad config: unknown config key "telemetry.enable" (value true): not a conntrail setting; `conntrail config --reference` lists them\n'],
] as const) {
  test(`${name}: one line on stderr, exit code 2`, (t) => {
    const r = conntrail(['run', '--config', configFile(body)]);
    t.is(r.code, 2);
    t.is(r.stderr, expected);
    t.is(r.stdout, '');
  });
}

test('a missing config file: one line, exit code 2', (t) => {
  const r = conntrail(['config', '--config', path.join(tmp, 'absent.json')]);
  t.is(r.code, 2);
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /absent\.json: no such file/);
});

test('config prints the effective config with secrets masked and env applied', (t) => {
  const r = conntrail(['config'], { CONNTRAIL_KAFKA_SASL_PASSWORD: 'topsecret', CONNTRAIL_KAFKA_TOPIC: 'env-topic' });
  t.is(r.code, 0);
  const printed = JSON.parse(r.stdout) as { kafka: { topic: string; sasl: { password: string } } };
  t.is(printed.kafka.topic, 'env-topic');
  t.not(printed.kafka.sasl.password, 'topsecret');
  t.false(r.stdout.includes('topsecret'));
});

test('an unknown command prints usage and exits 2', (t) => {
  const r = conntrail(['frobnicate']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown command "frobnicate"/);
});

test('a spool directory that cannot be created: one line naming spool.directory, exit 1, before capture attaches', (t) => {
  const file = path.join(tmp, 'not-a-directory');
  fs.writeFileSync(file, '');
  const r = conntrail(['run', '--config', configFile({
    kafka: { brokers: ['127.0.0.1:1'] }, registry: { url: 'http://127.0.0.1:1' }, encoding: { format: 'ecs-json' },
    telemetry: { enabled: false, prometheusPort: 0 }, spool: { directory: path.join(file, 'spool') },
  })]);
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0] as string, /^conntrail: spool\.directory ".*not-a-directory\/spool": cannot create or write it/);
  t.notRegex(r.stdout, /probe|attached/, 'nothing attached');
});
