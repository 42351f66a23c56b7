// Records published through KafkaSink (Avro, registry auto-register) arrive on
// the topic and decode through the registry with an independent consumer.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { integrationTest } from '../helpers/require.ts';
import { createEncoder } from '../../producer/encode/create.ts';
import { readWireFrame } from '../../producer/encode/avro.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { startSink } from '../../producer/sink/start.ts';
import { subjectOf, restClient, clearSchemaCache } from '../../producer/registry/schema.ts';
import { consume, deleteSubjects, deleteTopics, plain, REGISTRY_URL, stackConfig, testRecords, topicMessageCount, uniqueName, withAdmin } from './helpers.ts';

await integrationTest('Avro through KafkaSink: exact count, field values, keys, timestamps, per-key order', ['kafka', 'registry'], async (t) => {
  const topic = uniqueName('avro');
  const cfg = stackConfig(topic, { kafka: { keyStrategy: 'process', batch: { maxRecords: 250 } } });
  const subject = subjectOf({ registry: cfg.registry, topic });
  clearSchemaCache();
  const sink = await startSink(cfg);
  try {
    const records = testRecords(2000, { pids: 7 });
    for (let i = 0; i < records.length; i += 100) sink.push(records.slice(i, i + 100));
    t.true(await sink.flush(30_000));
    const stats = sink.stats();
    t.is(stats.published.records, 2000);
    t.is(stats.droppedTotal, 0);
    t.true(stats.published.batches >= 8);

    // an independent consumer + the registry client's own decoder
    const msgs = await consume(topic, 2000);
    t.is(msgs.length, 2000);
    t.is(await topicMessageCount(topic), 2000);
    const registry = new SchemaRegistry({ host: REGISTRY_URL });
    const ids = new Set(msgs.map((m) => readWireFrame(m.value).schemaId));
    t.is(ids.size, 1);
    const registered = await restClient(cfg.registry).version(subject, 'latest');
    t.is([...ids][0], registered?.id);

    const byId = new Map(records.map((r) => [r.eventId, r]));
    const perKey = new Map<string, string[]>();
    for (const m of msgs) {
      const decoded = plain(await registry.decode(m.value)) as { eventId: string; process: { pid: number }; timestamp: number };
      t.deepEqual(decoded, plain(byId.get(decoded.eventId)));
      t.is(m.key, `web-1:${decoded.process.pid}`);
      t.is(m.timestamp, String(Math.floor(decoded.timestamp / 1000)));
      const list = perKey.get(m.key as string) ?? [];
      list.push(decoded.eventId);
      perKey.set(m.key as string, list);
    }
    t.is(new Set(msgs.map((m) => (plain(m.value.toString('hex')) as string))).size, 2000, 'no duplicates');
    // per key: the consumer sees a partition in offset order; a key is on one partition
    for (const [key, list] of perKey) t.deepEqual(list, [...list].sort(), `order of ${key}`);
    t.is(perKey.size, 7);
    const partitions = await withAdmin((a) => a.fetchTopicMetadata({ topics: [topic] }));
    t.is(partitions.topics[0]?.partitions.length, 3);
  } finally {
    await sink.stop(5000);
    await deleteTopics([topic]);
    await deleteSubjects([subject]);
  }
}, { serial: true });

await integrationTest('the schema id is resolved once per process', ['kafka', 'registry'], async (t) => {
  const topic = uniqueName('avro-cache');
  const cfg = stackConfig(topic, { encoding: { format: 'avro' } });
  clearSchemaCache();
  let calls = 0;
  const client = new SchemaRegistry({ host: REGISTRY_URL });
  const register = client.register.bind(client);
  client.register = ((...args: Parameters<typeof register>) => { calls++; return register(...args); }) as typeof client.register;
  const a = await createEncoder(cfg, { client });
  const b = await createEncoder(cfg, { client });
  t.is(calls, 1);
  t.is(readWireFrame(a.encode(testRecords(1)[0]!)).schemaId, readWireFrame(b.encode(testRecords(1)[0]!)).schemaId);
  await deleteSubjects([subjectOf({ registry: cfg.registry, topic })]);
}, { serial: true });

await integrationTest('ECS JSON through KafkaSink: one JSON document per message', ['kafka'], async (t) => {
  const topic = uniqueName('ecs');
  const cfg = stackConfig(topic, { encoding: { format: 'ecs-json' }, kafka: { keyStrategy: 'destination' } });
  const sink = await startSink(cfg);
  try {
    const records = testRecords(500);
    sink.push(records);
    t.true(await sink.flush(30_000));
    const msgs = await consume(topic, 500);
    t.is(msgs.length, 500);
    const seen = new Set<string>();
    for (const m of msgs) {
      const doc = JSON.parse(m.value.toString('utf8')) as { event: { id: string }; destination: { ip: string; port: number; domain?: string }; '@timestamp': string };
      seen.add(doc.event.id);
      t.is(m.key, `${doc.destination.ip}:${doc.destination.port}`);
      const r = records.find((x) => x.eventId === doc.event.id)!;
      t.is(doc.destination.domain, r.results[0]);
      t.true(doc['@timestamp'].endsWith('Z'));
    }
    t.is(seen.size, 500);
  } finally {
    await sink.stop(5000);
    await deleteTopics([topic]);
  }
}, { serial: true });

await integrationTest('a full queue counts its drops; what was kept arrives exactly', ['kafka'], async (t) => {
  const topic = uniqueName('drops');
  const cfg = stackConfig(topic, { encoding: { format: 'ecs-json' }, queue: { maxRecords: 300, policy: 'drop-newest' }, kafka: { batch: { maxRecords: 100 } } });
  const sink = await startSink(cfg);
  try {
    sink.push(testRecords(5000)); // synchronous: 300 fit, 4700 dropped
    const s1 = sink.stats();
    t.is(s1.drops.queue_full_records, 4700);
    t.true(await sink.flush(30_000));
    const s = sink.stats();
    t.is(s.published.records, 300);
    t.is(s.pushed, s.published.records + s.droppedTotal);
    const msgs = await consume(topic, 300);
    t.is(msgs.length, 300);
    t.is(await topicMessageCount(topic), 300);
  } finally {
    await sink.stop(5000);
    await deleteTopics([topic]);
  }
}, { serial: true });

await integrationTest('records pushed while the sink is not yet connected go out after start()', ['kafka'], async (t) => {
  const topic = uniqueName('early');
  const cfg = stackConfig(topic, { encoding: { format: 'ecs-json' } });
  const encoder = await createEncoder(cfg);
  const sink = new KafkaSink(cfg, encoder);
  sink.push(testRecords(10));
  await sink.start();
  t.true(await sink.flush(10_000));
  t.is((await consume(topic, 10)).length, 10);
  await sink.stop(1000);
  await deleteTopics([topic]);
}, { serial: true });
