// conntrail against a secured broker: a private Kafka node with a SASL_SSL
// listener (TLS from a throwaway CA; SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
// users), configured only through kafka.ssl.* and kafka.sasl.*. What was
// published is read back over the broker's PLAINTEXT listener.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { integrationTest } from '../helpers/require.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { consume, stackConfig, testRecords, uniqueName } from '../publish/helpers.ts';
import { PrivateBroker } from '../publish/private-broker.ts';
import { makeTestPki } from './tls.ts';

const USER = 'conntrail';
const PASSWORD = 'c0nntrail-secret';

let brokerPromise: Promise<{ broker: PrivateBroker; caFile: string; dir: string }> | null = null;

/** One secured broker for the file, started by the first test that needs it. */
function securedBroker(): Promise<{ broker: PrivateBroker; caFile: string; dir: string }> {
  brokerPromise ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-pki-'));
    const pki = makeTestPki(dir);
    const jaas = (module: string, extra = ''): string => `org.apache.kafka.common.security.${module} required${extra};`;
    const broker = await PrivateBroker.create({
      secure: {
        protocol: 'SASL_SSL',
        properties: [
          'listener.name.secure.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
          `listener.name.secure.plain.sasl.jaas.config=${jaas('plain.PlainLoginModule', ` user_${USER}="${PASSWORD}"`)}`,
          `listener.name.secure.scram-sha-256.sasl.jaas.config=${jaas('scram.ScramLoginModule')}`,
          `listener.name.secure.scram-sha-512.sasl.jaas.config=${jaas('scram.ScramLoginModule')}`,
          'listener.name.secure.ssl.keystore.type=PEM',
          `listener.name.secure.ssl.keystore.location=${pki.serverKeystore}`,
        ],
        // SCRAM credentials live in the cluster metadata: written at format time
        formatArgs: [
          '--add-scram', `SCRAM-SHA-256=[name=${USER},password=${PASSWORD}]`,
          '--add-scram', `SCRAM-SHA-512=[name=${USER},password=${PASSWORD}]`,
        ],
      },
    });
    return { broker, caFile: pki.caFile, dir };
  })();
  return brokerPromise;
}

function secureConfig(topic: string, brokers: string[], ssl: Record<string, unknown>, sasl: Record<string, unknown>) {
  return stackConfig(topic, {
    encoding: { format: 'ecs-json' },
    kafka: { brokers, topicPartitions: 1, ssl, sasl, retry: { retries: 1, initialRetryTimeMs: 100, maxRetryTimeMs: 500 } },
  });
}

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
  await integrationTest(`SASL_SSL with ${mechanism}: records published over TLS arrive exactly`, ['kafka'], async (t) => {
    t.timeout(180_000);
    const { broker, caFile } = await securedBroker();
    const topic = uniqueName(`secure-${mechanism}`);
    const cfg = secureConfig(topic, broker.secureBrokers, { enabled: true, caFile }, { mechanism, username: USER, password: PASSWORD });
    const sink = new KafkaSink(cfg, new EcsJsonEncoder());
    await sink.start();
    try {
      const records = testRecords(300, { pids: 3 });
      sink.push(records);
      t.true(await sink.flush(30_000));
      t.is(sink.stats().published.records, 300);
      t.is(sink.stats().droppedTotal, 0);
    } finally {
      await sink.stop(5000);
    }
    const msgs = await consume(topic, 300, { brokers: broker.brokers, timeoutMs: 30_000 });
    const ids = msgs.map((m) => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id);
    t.deepEqual(ids, testRecords(300, { pids: 3 }).map((r) => r.eventId), 'one partition: every record, once, in order');
  }, { serial: true });
}

await integrationTest('a wrong SASL password stops start() with a KafkaAuthenticationError naming kafka.sasl', ['kafka'], async (t) => {
  t.timeout(180_000);
  const { broker, caFile } = await securedBroker();
  const cfg = secureConfig(uniqueName('secure-badpw'), broker.secureBrokers, { enabled: true, caFile }, { mechanism: 'scram-sha-512', username: USER, password: 'wrong' });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  const err = await t.throwsAsync(sink.start());
  t.log(err?.message);
  t.is(err?.name, 'KafkaAuthenticationError');
  t.regex(err?.message ?? '', /refused the SASL credentials \(kafka\.sasl\.\*\): .*authentication failed/i);
  t.regex(err?.message ?? '', new RegExp(broker.secureBrokers[0] as string));
  await sink.stop(1000);
}, { serial: true });

await integrationTest('TLS without the CA that signed the broker: start() fails naming TLS, kafka.ssl and the certificate problem', ['kafka'], async (t) => {
  t.timeout(180_000);
  const { broker } = await securedBroker();
  const cfg = secureConfig(uniqueName('secure-noca'), broker.secureBrokers, { enabled: true }, { mechanism: 'plain', username: USER, password: PASSWORD });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  const err = await t.throwsAsync(sink.start());
  t.log(err?.message);
  t.is(err?.name, 'KafkaUnavailableError');
  t.regex(err?.message ?? '', /^TLS to Kafka at .* failed \(check kafka\.ssl\.\*\): .*certificate/);
  await sink.stop(1000);
}, { serial: true });

test.after.always(async () => {
  if (!brokerPromise) return;
  const { broker, dir } = await brokerPromise.catch(() => ({ broker: null, dir: '' }));
  await broker?.destroy();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});
