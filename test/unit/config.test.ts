import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, envName, loadConfig, schemaLeaves } from '../../producer/config/load.ts';
import { configReferenceMarkdown } from '../../producer/config/reference.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-config-'));
function writeConfig(name: string, body: unknown): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

test('every key has a doc string and a CONNTRAIL_ environment name', (t) => {
  const leaves = schemaLeaves();
  t.true(leaves.length > 40);
  for (const { path: key, leaf } of leaves) {
    t.true(typeof leaf.doc === 'string' && (leaf.doc as string).length > 10, `${key} has a doc string`);
    t.regex(envName(key), /^CONNTRAIL_[A-Z0-9_]+$/);
  }
  t.is(envName('kafka.batch.lingerMs'), 'CONNTRAIL_KAFKA_BATCH_LINGER_MS');
});

test('config/default.json equals the schema defaults', (t) => {
  const fromSchema = loadConfig({ env: {} }).config as unknown as Record<string, unknown>;
  const fromFile = JSON.parse(fs.readFileSync('config/default.json', 'utf8')) as Record<string, unknown>;
  const { host: _host, ...rest } = fromSchema;
  t.deepEqual(fromFile, rest);
});

test('docs/configuration.md is generated from the schema and up to date', (t) => {
  t.is(fs.readFileSync('docs/configuration.md', 'utf8'), configReferenceMarkdown());
});

test('commented example files load, with the environment their comments ask for', (t) => {
  const files = fs.readdirSync('config/examples').filter((f) => f.endsWith('.jsonc'));
  t.true(files.length >= 3);
  for (const file of files) {
    const text = fs.readFileSync(path.join('config/examples', file), 'utf8');
    // e.g. "Better set in the environment: CONNTRAIL_KAFKA_SASL_PASSWORD"
    const env = Object.fromEntries([...text.matchAll(/\b(CONNTRAIL_[A-Z0-9_]+)\b/g)].map(([, name]) => [name as string, 'from-the-environment']));
    t.notThrows(() => loadConfig({ file: path.join('config/examples', file), env }), file);
  }
  t.notThrows(() => loadConfig({ file: 'config/default.json', env: {} }), 'config/default.json');
});

test('a string for a number names the key, the value and what is expected', (t) => {
  const file = writeConfig('bad-number.json', { kafka: { batch: { lingerMs: 'soon' } } });
  const err = t.throws(() => loadConfig({ file, env: {} }), { instanceOf: ConfigError });
  t.is(err?.message, 'kafka.batch.lingerMs = "soon": expected a whole number from 0 to 900000');
});

test('enrich.outcomeWaitMs and outcomeMaxPending: bad values name the key, the value and the range', (t) => {
  const wait = t.throws(() => loadConfig({ file: writeConfig('bad-wait.json', { enrich: { outcomeWaitMs: 60001 } }), env: {} }), { instanceOf: ConfigError });
  t.is(wait?.message, 'enrich.outcomeWaitMs = 60001: expected a whole number from 0 to 60000');
  const max = t.throws(() => loadConfig({ env: { CONNTRAIL_ENRICH_OUTCOME_MAX_PENDING: '0' } }), { instanceOf: ConfigError });
  t.is(max?.message, 'enrich.outcomeMaxPending = "0" (from CONNTRAIL_ENRICH_OUTCOME_MAX_PENDING): expected a whole number from 1 to 1048576');
  t.is(loadConfig({ env: { CONNTRAIL_ENRICH_OUTCOME_WAIT_MS: '0' } }).config.enrich.outcomeWaitMs, 0, '0 turns the join off');
});

test('an unknown key is an error that names it', (t) => {
  const file = writeConfig('unknown.json', { kafka: { brokerz: ['a:1'] } });
  const err = t.throws(() => loadConfig({ file, env: {} }), { instanceOf: ConfigError });
  t.regex(err?.message ?? '', /^unknown config key "kafka\.brokerz" \(value \["a:1"\]\)/);
});

test('a value outside an enumeration lists the allowed values', (t) => {
  const file = writeConfig('enum.json', { queue: { policy: 'drop-random' } });
  const err = t.throws(() => loadConfig({ file, env: {} }), { instanceOf: ConfigError });
  t.is(err?.message, 'queue.policy = "drop-random": expected one of ["drop-newest","drop-oldest"]');
});

test('a missing file and invalid JSON are clear errors', (t) => {
  t.throws(() => loadConfig({ file: path.join(tmp, 'nope.json'), env: {} }), { instanceOf: ConfigError, message: /nope\.json: no such file/ });
  const file = writeConfig('broken.json', '{"kafka": {');
  t.throws(() => loadConfig({ file, env: {} }), { instanceOf: ConfigError, message: /not valid JSON at line 1/ });
});

test('environment overrides the file, with lists as comma-separated text', (t) => {
  const file = writeConfig('env.json', { kafka: { topic: 'from-file', batch: { lingerMs: 5 } } });
  const { config } = loadConfig({ file, env: { CONNTRAIL_KAFKA_BATCH_LINGER_MS: '25', CONNTRAIL_KAFKA_BROKERS: 'a:9092, b:9092', CONNTRAIL_CAPTURE_EXCLUDE_PORTS: '22,443' } });
  t.is(config.kafka.batch.lingerMs, 25);
  t.is(config.kafka.topic, 'from-file');
  t.deepEqual(config.kafka.brokers, ['a:9092', 'b:9092']);
  t.deepEqual(config.capture.exclude.ports, [22, 443]);
});

test('a bad environment value names the variable', (t) => {
  const err = t.throws(() => loadConfig({ env: { CONNTRAIL_CAPTURE_RING_BUFFER_BYTES: '1000' } }), { instanceOf: ConfigError });
  t.is(err?.message, 'capture.ringBufferBytes = "1000" (from CONNTRAIL_CAPTURE_RING_BUFFER_BYTES): expected a power of two from 4096 to 1073741824 (bytes)');
});

test('CIDR, port and probe lists are checked element by element', (t) => {
  t.throws(() => loadConfig({ overrides: { capture: { exclude: { cidrs: ['10.0.0.0/33'] } } }, env: {} }), { message: /capture\.exclude\.cidrs .*expected a list of CIDRs/ });
  t.throws(() => loadConfig({ overrides: { capture: { exclude: { ports: [0] } } }, env: {} }), { message: /capture\.exclude\.ports/ });
  t.throws(() => loadConfig({ overrides: { capture: { ladder: ['lsm', 'ebpf'] } }, env: {} }), { message: /capture\.ladder .*expected a non-empty list of probes/ });
  t.notThrows(() => loadConfig({ overrides: { capture: { exclude: { cidrs: ['10.0.0.0/8', 'fd00::/8'] } } }, env: {} }));
});

test('secrets are masked when printed and in errors', (t) => {
  const printed = loadConfig({ env: {
    CONNTRAIL_KAFKA_SASL_MECHANISM: 'plain', CONNTRAIL_KAFKA_SASL_USERNAME: 'u', CONNTRAIL_KAFKA_SASL_PASSWORD: 'hunter2',
    CONNTRAIL_REGISTRY_USERNAME: 'u', CONNTRAIL_REGISTRY_PASSWORD: 'swordfish',
  } }).printable();
  t.false(printed.includes('hunter2'));
  t.false(printed.includes('swordfish'));
  const file = writeConfig('secret.json', { kafka: { sasl: { password: 12345 } } });
  const err = t.throws(() => loadConfig({ file, env: {} }), { instanceOf: ConfigError });
  t.false(err?.message.includes('12345'));
});
