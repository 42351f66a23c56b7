// What an idle agent loads is resident for its whole life: modules it never
// runs stay out. @kafkajs/confluent-schema-registry loads its JSON Schema (ajv)
// and Protobuf (protobufjs) support only when a schema of that type is met
// (patches/@kafkajs+confluent-schema-registry+4.1.0.patch).
import test from 'ava';
import { execFileSync } from 'node:child_process';

const loadedAfter = (code: string): string[] => {
  const script = `${code}
const { createRequire } = await import('node:module');
const cache = createRequire(import.meta.url).cache;
console.log(JSON.stringify([...new Set(Object.keys(cache).map((k) => k.replace(/^.*node_modules\\//, '').split('/').slice(0, k.includes('/node_modules/@') ? 2 : 1).join('/')))]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: new URL('../..', import.meta.url).pathname });
  return JSON.parse(out.trim().split('\n').pop()!) as string[];
};

test('the registry client, with an Avro schema parsed, loads neither ajv nor protobufjs', (t) => {
  const loaded = loadedAfter(`
const { SchemaRegistry, SchemaType } = await import('@kafkajs/confluent-schema-registry');
const { schemaFromConfluentSchema } = await import('@kafkajs/confluent-schema-registry/dist/schemaTypeResolver.js');
new SchemaRegistry({ host: 'http://127.0.0.1:9' });
schemaFromConfluentSchema({ type: SchemaType.AVRO, schema: JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] }) });`);
  t.true(loaded.includes('@kafkajs/confluent-schema-registry'), loaded.join(' '));
  t.true(loaded.includes('avsc'));
  t.false(loaded.includes('ajv'));
  t.false(loaded.includes('protobufjs'));
});

test('a JSON Schema still works: ajv is loaded when one is met', (t) => {
  const loaded = loadedAfter(`
const { SchemaType } = await import('@kafkajs/confluent-schema-registry');
const { schemaFromConfluentSchema } = await import('@kafkajs/confluent-schema-registry/dist/schemaTypeResolver.js');
const s = schemaFromConfluentSchema({ type: SchemaType.JSON, schema: JSON.stringify({ type: 'object', properties: { a: { type: 'integer' } } }) });
const hook = { errorHook: () => {} }; // without a hook the library's isValid() answers true
if (!s.isValid({ a: 1 }, hook) || s.isValid({ a: 'x' }, hook)) throw new Error('JSON schema validation is wrong');`);
  t.true(loaded.includes('ajv'));
});
