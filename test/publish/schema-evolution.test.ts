// Schema versions in the real registry (Apicurio ccompat): register, check,
// list, BACKWARD evolution with a v1 reader, refusals with reasons, latest mode.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { integrationTest } from '../helpers/require.ts';
import { AvroEncoder, readWireFrame } from '../../producer/encode/avro.ts';
import { avroType, loadBundledSchema } from '../../producer/model/avro-schema.ts';
import type { AvroRecordSchema } from '../../producer/model/avro-schema.ts';
import {
  checkSchema, clearSchemaCache, listSchemaVersions, registerSchema, resolveWriterSchema, restClient, subjectOf,
} from '../../producer/registry/schema.ts';
import { createAvroEncoder } from '../../producer/encode/create.ts';
import { SchemaIncompatibleError, SubjectNotFoundError } from '../../producer/registry/errors.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { consume, deleteSubjects, deleteTopics, plain, REGISTRY_URL, stackConfig, testRecords, uniqueName } from './helpers.ts';

function v2Text(): string {
  const json = structuredClone(loadBundledSchema().json) as AvroRecordSchema;
  json.fields.push({ name: 'site', type: ['null', 'string'], default: null, doc: 'Site label (added in v2).' });
  return JSON.stringify(json);
}

function incompatibleText(): string {
  const json = structuredClone(loadBundledSchema().json) as AvroRecordSchema;
  for (const f of json.fields) if (f.name === 'dstPort') f.type = 'string';
  json.fields.push({ name: 'tenant', type: 'string', doc: 'Required, no default.' });
  return JSON.stringify(json);
}

await integrationTest('register, check, list; v2 with a new optional field is BACKWARD-compatible and a v1 reader still decodes', ['kafka', 'registry'], async (t) => {
  const topic = uniqueName('evolve');
  const cfg = stackConfig(topic, { registry: { mode: 'auto-register' } });
  const target = { registry: cfg.registry, topic };
  const subject = subjectOf(target);
  const rest = restClient(cfg.registry);
  clearSchemaCache();
  try {
    // v1 = the bundled schema
    const first = await registerSchema(target);
    t.is(first.subject, `${topic}-value`);
    t.true(first.created);
    t.is(first.version, 1);
    const again = await registerSchema(target);
    t.false(again.created);
    t.is(again.id, first.id);
    await rest.setSubjectCompatibility(subject, 'BACKWARD');

    const okCheck = await checkSchema(target, { schemaText: v2Text() });
    t.true(okCheck.compatible);
    t.is(okCheck.compatibility, 'BACKWARD');
    t.deepEqual(okCheck.versions, [1]);
    t.is(okCheck.registeredAs, null);
    const bundledCheck = await checkSchema(target);
    t.deepEqual(bundledCheck.registeredAs, { version: 1, id: first.id });

    const v2 = await registerSchema(target, { schemaText: v2Text() });
    t.true(v2.created);
    t.is(v2.version, 2);
    t.not(v2.id, first.id);

    const listed = await listSchemaVersions(target);
    t.deepEqual(listed.versions.map((v) => [v.version, v.id, v.bundled]), [[1, first.id, true], [2, v2.id, false]]);
    t.true(listed.versions[1]?.fields.includes('site'));
    t.is(listed.compatibility, 'BACKWARD');

    // latest mode now writes with v2 (it carries conntrail records: site defaults to null)
    clearSchemaCache();
    const latestCfg = stackConfig(topic, { registry: { mode: 'latest' } });
    const resolved = await resolveWriterSchema({ registry: latestCfg.registry, topic });
    t.is(resolved.id, v2.id);
    t.is(resolved.version, 2);
    t.false(resolved.bundled);

    // publish half with v2 (latest) and half with v1 (bundled), read back as v1 and as v2
    const { encoder: v2enc } = await createAvroEncoder({ registry: latestCfg.registry, topic });
    const v1enc = new AvroEncoder(first.id);
    const records = testRecords(200);
    for (const [enc, part] of [[v2enc, records.slice(0, 100)], [v1enc, records.slice(100)]] as const) {
      const sink = new KafkaSink(latestCfg, enc);
      await sink.start();
      sink.push(part);
      t.true(await sink.flush(20_000));
      await sink.stop(2000);
    }
    const msgs = await consume(topic, 200);
    t.is(msgs.length, 200);
    const registry = new SchemaRegistry({ host: REGISTRY_URL });
    const v1Reader = loadBundledSchema().json;
    const v2Reader = JSON.parse(v2Text()) as AvroRecordSchema;
    const byId = new Map(records.map((r) => [r.eventId, r]));
    const writers = new Map<number, number>();
    for (const m of msgs) {
      const id = readWireFrame(m.value).schemaId;
      writers.set(id, (writers.get(id) ?? 0) + 1);
      const asV1 = plain(await registry.decode(m.value, { AVRO: { readerSchema: v1Reader } })) as { eventId: string };
      t.deepEqual(asV1, plain(byId.get(asV1.eventId)));
      const asV2 = plain(await registry.decode(m.value, { AVRO: { readerSchema: v2Reader } })) as { eventId: string; site: unknown };
      t.is(asV2.site, null);
      t.deepEqual({ ...asV2, site: undefined }, { ...(plain(byId.get(asV2.eventId)) as object), site: undefined });
    }
    t.deepEqual([...writers.entries()].sort(), [[first.id, 100], [v2.id, 100]].sort());
  } finally {
    clearSchemaCache();
    await deleteTopics([topic]);
    await deleteSubjects([subject]);
  }
});

await integrationTest('an incompatible change is refused with the subject, versions and reasons', ['registry'], async (t) => {
  const topic = uniqueName('refuse');
  const cfg = stackConfig(topic);
  const target = { registry: cfg.registry, topic };
  const subject = subjectOf(target);
  const rest = restClient(cfg.registry);
  try {
    await registerSchema(target);
    await rest.setSubjectCompatibility(subject, 'BACKWARD');
    const check = await checkSchema(target, { schemaText: incompatibleText() });
    t.false(check.compatible);
    t.deepEqual(check.versions, [1]);
    t.true(check.reasons.length > 0);
    t.regex(check.reasons.join('\n'), /int|string|tenant/);

    const err = await t.throwsAsync(registerSchema(target, { schemaText: incompatibleText() }), { instanceOf: SchemaIncompatibleError });
    t.is(err?.subject, subject);
    t.deepEqual(err?.versions, [1]);
    t.is(err?.compatibility, 'BACKWARD');
    t.regex(err?.message ?? '', new RegExp(`subject "${subject}"`));
    t.regex(err?.message ?? '', /versions 1/);
    t.regex(err?.reasons.join(' ') ?? '', /[Ii]ncompatible/);
    t.deepEqual(await rest.versions(subject), [1]);
  } finally {
    await deleteSubjects([subject]);
  }
});

await integrationTest('latest mode refuses a registered schema that cannot carry conntrail records, and a missing subject', ['registry'], async (t) => {
  const topic = uniqueName('latest');
  const cfg = stackConfig(topic, { registry: { mode: 'latest' } });
  const target = { registry: cfg.registry, topic };
  const subject = subjectOf(target);
  const rest = restClient(cfg.registry);
  clearSchemaCache();
  try {
    await t.throwsAsync(resolveWriterSchema(target), { instanceOf: SubjectNotFoundError, message: /no schema is registered under subject/ });
    await rest.setSubjectCompatibility(subject, 'NONE').catch(() => {});
    await rest.register(subject, incompatibleText());
    const err = await t.throwsAsync(resolveWriterSchema(target), { instanceOf: SchemaIncompatibleError });
    t.regex(err?.message ?? '', /cannot carry conntrail's records/);
    t.regex(err?.reasons.join(' ') ?? '', /tenant|int/);
  } finally {
    clearSchemaCache();
    await deleteSubjects([subject]);
  }
});

await integrationTest('TopicRecordNameStrategy subject: <topic>-io.conntrail.NetTCPConnect', ['registry'], async (t) => {
  const topic = uniqueName('tr');
  const cfg = stackConfig(topic, { registry: { subjectStrategy: 'topic-record' } });
  const target = { registry: cfg.registry, topic };
  try {
    const r = await registerSchema(target);
    t.is(r.subject, `${topic}-io.conntrail.NetTCPConnect`);
    t.deepEqual(await restClient(cfg.registry).versions(r.subject), [1]);
    const encoded = (await createAvroEncoder(target)).encoder.encode(testRecords(1)[0]!);
    t.is(readWireFrame(encoded).schemaId, r.id);
    t.truthy(avroType(loadBundledSchema().json).fromBuffer(readWireFrame(encoded).body));
  } finally {
    clearSchemaCache();
    await deleteSubjects([subjectOf(target)]);
  }
});
