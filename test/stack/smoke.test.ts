/**
 * Proves the local stack is real (bash stack/stack.sh up, or docker compose up):
 * a topic, a message through Kafka, an Avro schema through the
 * Confluent-compatible registry API, and its compatibility checks.
 *
 * Skipped when the stack is not reachable, unless CONNTRAIL_REQUIRE_INTEGRATION=1
 * (CI), which makes these tests fail instead. See test/helpers/require.ts.
 */
import { randomUUID } from 'node:crypto';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { brokerList, integrationTest, REGISTRY_URL } from '../helpers/require.ts';

const run = `${Date.now()}-${randomUUID().slice(0, 8)}`;

const schemaV1 = {
  type: 'record',
  name: 'SmokeConnect',
  namespace: 'dev.conntrail.test',
  fields: [
    { name: 'pid', type: 'int' },
    { name: 'dst', type: 'string' },
  ],
};
// adds a field without a default: a BACKWARD-incompatible change
const schemaIncompatible = { ...schemaV1, fields: [...schemaV1.fields, { name: 'port', type: 'int' }] };
// adds a field with a default: BACKWARD-compatible
const schemaV2 = { ...schemaV1, fields: [...schemaV1.fields, { name: 'port', type: 'int', default: 0 }] };

const ccompatHeaders = { 'content-type': 'application/vnd.schemaregistry.v1+json' };

function kafkaClient(): Kafka {
  return new Kafka({ clientId: 'conntrail-smoke', brokers: brokerList(), logLevel: logLevel.WARN });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

await integrationTest('smoke: Avro record through Kafka and the registry', ['kafka', 'registry'], async (t) => {
  const topic = `conntrail-smoke-${run}`;
  const subject = `${topic}-value`;
  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const kafka = kafkaClient();
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `conntrail-smoke-${run}` });

  await admin.connect();
  try {
    t.true(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }));
    t.true((await admin.listTopics()).includes(topic));

    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schemaV1) }, { subject });
    t.true(Number.isInteger(id) && id > 0, `registry id ${id}`);

    // read the schema back by the id registration returned (needs legacy id mode on Apicurio)
    const fresh = new SchemaRegistry({ host: REGISTRY_URL }); // empty cache: really asks the registry
    const back = (await fresh.getSchema(id)) as { name?: string };
    t.is(back.name, 'dev.conntrail.test.SmokeConnect');
    t.is(await fresh.getLatestSchemaId(subject), id);

    const record = { pid: 4242, dst: '192.0.2.7' };
    const value = await registry.encode(id, record);
    t.is(value[0], 0, 'Confluent wire format: magic byte 0');
    t.is(value.readUInt32BE(1), id, 'Confluent wire format: schema id');

    await producer.connect();
    const [meta] = await producer.send({ topic, messages: [{ key: 'smoke', value }] });
    t.is(meta?.errorCode, 0);

    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received = new Promise<Buffer>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value) resolve(message.value);
        },
      });
    });
    const got = await withTimeout(received, 60_000, `consuming ${topic}`);
    t.deepEqual({ ...(await fresh.decode(got)) }, record); // decode gives an avsc record instance
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
});

await integrationTest('smoke: registry refuses BACKWARD-incompatible schemas, with a reason', ['registry'], async (t) => {
  const subject = `conntrail-smoke-compat-${run}-value`;
  const registry = new SchemaRegistry({ host: REGISTRY_URL });

  const { id: v1 } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(schemaV1) },
    { subject, compatibility: COMPATIBILITY.BACKWARD },
  );

  // per-subject config: PUT then GET
  const put = await fetch(`${REGISTRY_URL}/config/${subject}`, {
    method: 'PUT',
    headers: ccompatHeaders,
    body: JSON.stringify({ compatibility: 'BACKWARD' }),
  });
  t.is(put.status, 200);
  const cfg = (await (await fetch(`${REGISTRY_URL}/config/${subject}`)).json()) as { compatibilityLevel?: string };
  t.is(cfg.compatibilityLevel, 'BACKWARD');

  // the compatibility endpoint
  const check = async (schema: object) => {
    const res = await fetch(`${REGISTRY_URL}/compatibility/subjects/${subject}/versions/latest`, {
      method: 'POST',
      headers: ccompatHeaders,
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });
    t.is(res.status, 200);
    return ((await res.json()) as { is_compatible?: boolean }).is_compatible;
  };
  t.false(await check(schemaIncompatible));
  t.true(await check(schemaV2));

  // registering the incompatible one is refused (HTTP 409) and says why
  const err = await t.throwsAsync(
    registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schemaIncompatible) }, { subject }),
  );
  t.regex(err?.message ?? '', /incompatible/i);
  t.log(`refusal: ${err?.message}`);

  const { id: v2 } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schemaV2) }, { subject });
  t.not(v2, v1);

  // a record written with v1 reads with v2 as the reader schema (default fills `port`)
  const encoded = await registry.encode(v1, { pid: 1, dst: '198.51.100.1' });
  const readerSchema = await registry.getSchema(v2);
  t.deepEqual({ ...(await registry.decode(encoded, { [SchemaType.AVRO]: { readerSchema } })) }, {
    pid: 1,
    dst: '198.51.100.1',
    port: 0,
  });
});

await integrationTest('smoke: global compatibility can be read and set', ['registry'], async (t) => {
  const get = async () =>
    ((await (await fetch(`${REGISTRY_URL}/config`)).json()) as { compatibilityLevel?: string }).compatibilityLevel;
  const before = await get();
  t.truthy(before, 'GET /config answers a compatibilityLevel');
  const set = async (level: string) =>
    fetch(`${REGISTRY_URL}/config`, { method: 'PUT', headers: ccompatHeaders, body: JSON.stringify({ compatibility: level }) });
  try {
    t.is((await set('FULL')).status, 200);
    t.is(await get(), 'FULL');
  } finally {
    await set(before ?? 'BACKWARD');
  }
  t.is(await get(), before);
}, { serial: true });
