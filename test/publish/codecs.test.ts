// Every kafka.compression codec through the real broker: produced by KafkaSink
// (kafkajs + our codecs), read back by an independent kafkajs consumer AND by
// Kafka's own Java console consumer (snappy-java, lz4-java, zstd-jni).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { integrationTest, brokerList, KAFKA_BROKERS } from '../helpers/require.ts';
import { startSink } from '../../producer/sink/start.ts';
import { COMPRESSIONS } from '../../producer/sink/codecs.ts';
import { consume, deleteTopics, stackConfig, testRecords, uniqueName } from './helpers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const N = 1000;

/** Runs Kafka's ConsoleConsumer (through stack.sh kafka-run) and returns the values it printed. */
function javaConsume(topicRegex: string, max: number, timeoutMs: number): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(ROOT, 'stack', 'stack.sh'), 'kafka-run', 'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server', brokerList(KAFKA_BROKERS)[0] as string, '--include', topicRegex, '--from-beginning',
      '--max-messages', String(max), '--timeout-ms', String(timeoutMs), '--group', uniqueName('java-group')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, lines: out.split('\n').filter((l) => l.startsWith('{')), stderr: err });
    });
  });
}

const run = uniqueName('codec');
const topics = Object.fromEntries(COMPRESSIONS.map((c) => [c, `${run}-${c}`])) as Record<(typeof COMPRESSIONS)[number], string>;

for (const compression of COMPRESSIONS) {
  await integrationTest(`compression ${compression}: round trip through the broker to a kafkajs consumer`, ['kafka'], async (t) => {
    const topic = topics[compression];
    const cfg = stackConfig(topic, { encoding: { format: 'ecs-json' }, kafka: { compression, batch: { maxRecords: 200 } } });
    const sink = await startSink(cfg);
    try {
      const records = testRecords(N, { from: 0 });
      sink.push(records);
      t.true(await sink.flush(30_000));
      const s = sink.stats();
      t.is(s.published.records, N);
      t.is(s.publishErrors, 0);
      const msgs = await consume(topic, N);
      t.is(msgs.length, N);
      const ids = msgs.map((m) => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id).sort();
      t.deepEqual(ids, records.map((r) => r.eventId).sort());
    } finally {
      await sink.stop(5000);
    }
  }, { serial: true });
}

await integrationTest('all codecs: Kafka\'s Java console consumer reads what kafkajs + our codecs wrote', ['kafka'], async (t) => {
  t.timeout(180_000);
  try {
    const total = N * COMPRESSIONS.length;
    const { code, lines, stderr } = await javaConsume(`${run}-.*`, total, 30_000);
    t.is(lines.length, total, `exit ${code}; stderr: ${stderr.slice(-2000)}`);
    const ids = new Set(lines.map((l) => (JSON.parse(l) as { event: { id: string } }).event.id));
    t.is(ids.size, N); // the same N event ids in every topic
  } finally {
    await deleteTopics(Object.values(topics));
  }
}, { serial: true });
