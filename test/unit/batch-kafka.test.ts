// kafka.* -> kafkajs mapping, log routing, and the startup errors that need no broker.
import test from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { ConfigError, loadConfig } from '../../producer/config/load.ts';
import { kafkaClientConfig, kafkajsLogCreator, KafkaTransport, brokersOf, cachingPartitioner, sendRetry, SEND_RETRY_MAX_MS } from '../../producer/sink/kafka.ts';
import { kafkajsPatched } from '../../producer/sink/kafkajs-patch.ts';
import { KafkaConfigError, KafkaUnavailableError } from '../../producer/sink/errors.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';

const requireCjs = createRequire(import.meta.url);
type Group = (args: { topic: string; partitionMetadata: unknown[]; messages: unknown[]; partitioner: (a: { message: unknown }) => number }) => Record<number, unknown[]>;
/** kafkajs's own file (src/producer/sendMessages.js requires it): the patched one is what kafkajs runs. */
const groupMessagesPerPartition = requireCjs(path.join(path.dirname(requireCjs.resolve('kafkajs')), 'src', 'producer', 'groupMessagesPerPartition.js')) as Group;

const kafkaCfg = (overrides: Record<string, unknown> = {}) => loadConfig({ env: {}, overrides: { kafka: overrides } }).config.kafka;

test('defaults: local brokers, no TLS, no SASL, retries from kafka.retry.*', (t) => {
  const c = kafkaClientConfig(kafkaCfg());
  t.deepEqual(c.brokers, ['127.0.0.1:9092']);
  t.is(c.ssl, false);
  t.false('sasl' in c);
  t.deepEqual(c.retry, { retries: 8, initialRetryTime: 300, maxRetryTime: 30000 });
  t.is(c.requestTimeout, 30000);
  t.is(c.clientId, 'conntrail');
  t.deepEqual(brokersOf({ brokers: ['a:1', 'b:2'] }), ['a:1', 'b:2']);
});

test('TLS files are read into the tls options; a missing file is a KafkaConfigError', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-tls-'));
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) fs.writeFileSync(path.join(dir, f), `-----${f}-----\n`);
  const c = kafkaClientConfig(kafkaCfg({ ssl: { enabled: true, caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem'), rejectUnauthorized: false } }));
  const ssl = c.ssl as { ca: Buffer[]; cert: Buffer; key: Buffer; rejectUnauthorized: boolean };
  t.is(ssl.ca[0]?.toString(), '-----ca.pem-----\n');
  t.is(ssl.cert.toString(), '-----cert.pem-----\n');
  t.is(ssl.key.toString(), '-----key.pem-----\n');
  t.false(ssl.rejectUnauthorized);
  t.deepEqual(kafkaClientConfig(kafkaCfg({ ssl: { enabled: true } })).ssl, { rejectUnauthorized: true });
  t.throws(() => kafkaClientConfig(kafkaCfg({ ssl: { enabled: true, caFile: path.join(dir, 'nope.pem') } })), { instanceOf: KafkaConfigError, message: /kafka\.ssl\.caFile/ });
  fs.rmSync(dir, { recursive: true });
});

test('SASL mechanisms map to kafkajs', (t) => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    t.deepEqual(kafkaClientConfig(kafkaCfg({ sasl: { mechanism, username: 'u', password: 'p' } })).sasl, { mechanism, username: 'u', password: 'p' });
  }
});

test('idempotent needs acks=-1: refused at config load, and by the transport itself', (t) => {
  // the config refuses it first, as one line naming both keys
  t.throws(() => kafkaCfg({ idempotent: true, acks: 1 }), {
    instanceOf: ConfigError,
    message: 'kafka.acks = 1: expected -1 while kafka.idempotent is true (the idempotent producer needs every in-sync replica\'s ack); set kafka.acks to -1 or kafka.idempotent to false',
  });
  // the transport's own guard, for a section that did not come through loadConfig
  t.throws(() => new KafkaTransport({ ...kafkaCfg({ idempotent: true }), acks: 1 }), { instanceOf: KafkaConfigError, message: 'kafka.idempotent needs kafka.acks=-1' });
  t.notThrows(() => new KafkaTransport(kafkaCfg({ idempotent: true })));
});

test('kafkajs log lines go to the logger by level', (t) => {
  const lines: [string, object, string | undefined][] = [];
  const logger = {
    debug: (o: object, m?: string) => lines.push(['debug', o, m]),
    info: (o: object, m?: string) => lines.push(['info', o, m]),
    warn: (o: object, m?: string) => lines.push(['warn', o, m]),
    error: (o: object, m?: string) => lines.push(['error', o, m]),
  };
  const log = kafkajsLogCreator(logger)(kafkajs.logLevel.WARN);
  log({ namespace: 'Connection', level: kafkajs.logLevel.ERROR, label: 'ERROR', log: { timestamp: 'x', message: 'boom', broker: 'b:1' } });
  log({ namespace: 'Producer', level: kafkajs.logLevel.WARN, label: 'WARN', log: { timestamp: 'x', message: 'careful' } });
  t.deepEqual(lines, [
    ['error', { component: 'kafkajs', namespace: 'Connection', broker: 'b:1' }, 'boom'],
    ['warn', { component: 'kafkajs', namespace: 'Producer' }, 'careful'],
  ]);
  t.is(kafkaClientConfig(kafkaCfg(), logger).logLevel, kafkajs.logLevel.WARN);
});

test('a repeated kafkajs line is logged once per window, then with the count of suppressed ones', async (t) => {
  const lines: object[] = [];
  const push = (o: object) => lines.push(o);
  const log = kafkajsLogCreator({ debug: push, info: push, warn: push, error: push }, 50)(kafkajs.logLevel.WARN);
  const entry = { namespace: 'Connection', level: kafkajs.logLevel.ERROR, label: 'ERROR', log: { timestamp: 'x', message: 'Connection error: ECONNREFUSED', stack: 'long' } };
  for (let i = 0; i < 5; i++) log(entry);
  t.is(lines.length, 1);
  t.false('stack' in (lines[0] as object));
  await new Promise((r) => setTimeout(r, 60));
  log(entry);
  t.is(lines.length, 2);
  t.is((lines[1] as { suppressed: number }).suppressed, 4);
});

test('no broker: start() fails with KafkaUnavailableError naming the brokers', async (t) => {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const { config } = loadConfig({ env: {}, overrides: { kafka: { brokers: [`127.0.0.1:${port}`], retry: { retries: 1, initialRetryTimeMs: 50, maxRetryTimeMs: 100 } } } });
  const sink = new KafkaSink(config, new EcsJsonEncoder());
  const err = await t.throwsAsync(sink.start(), { instanceOf: KafkaUnavailableError });
  t.regex(err?.message ?? '', new RegExp(`Kafka is unreachable at 127.0.0.1:${port}`));
  t.is(err?.name, 'KafkaUnavailableError');
  await sink.stop(10);
});

test('the caching partitioner picks the same partition as kafkajs\'s DefaultPartitioner', (t) => {
  const stock = kafkajs.Partitioners.DefaultPartitioner();
  const ours = cachingPartitioner(16)();
  for (const n of [1, 3, 7, 12]) {
    const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
    for (let i = 0; i < 200; i++) {
      for (const key of [`web-${i % 9}:${i}`, `10.0.${i}.1:443`, `[2001:db8::${i}]:80`]) {
        const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
        t.is(ours(args), stock(args), `${key} over ${n}`);
      }
    }
    const fixed = { topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: 0 } };
    t.is(ours(fixed), 0);
    const keyless = ours({ topic: 't', partitionMetadata, message: { key: null, value: 'v' } });
    t.true(keyless >= 0 && keyless < n);
  }
});

test('kafkajs is patched with the linear per-partition grouping, same result', (t) => {
  t.true(kafkajsPatched());
  const messages = Array.from({ length: 1000 }, (_, i) => ({ i }));
  const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: [{}, {}, {}], messages, partitioner: ({ message }) => (message as { i: number }).i % 3 });
  t.deepEqual(Object.keys(grouped), ['0', '1', '2']);
  t.deepEqual(grouped[1]?.slice(0, 3), [{ i: 1 }, { i: 4 }, { i: 7 }]);
  t.is(grouped[2]?.length, 333);
  t.deepEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }), {});
});

test('a send retries in steps of at most SEND_RETRY_MAX_MS, as long in all as kafka.retry.* says', (t) => {
  // the defaults: 8 retries from 300 ms doubling to 30 s sleep 68.1 s; in steps of at most 1 s that is 70 retries
  t.deepEqual(sendRetry({ retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 }), { retries: 70, initialRetryTime: 300, maxRetryTime: SEND_RETRY_MAX_MS });
  // already short: unchanged
  t.deepEqual(sendRetry({ retries: 2, initialRetryTime: 100, maxRetryTime: 500 }), { retries: 2, initialRetryTime: 100, maxRetryTime: 500 });
  // the largest config stays bounded work (closed form, no loop per retry)
  t.is(sendRetry({ retries: 1000, initialRetryTime: 300_000, maxRetryTime: 300_000 }).retries, 300_000);
});
