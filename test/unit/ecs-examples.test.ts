// The consumer examples stay consistent with what conntrail writes.
import test from 'ava';
import fs from 'node:fs';
import YAML from 'yaml';
import { loadConfig } from '../../producer/config/load.ts';
import { LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';

const read = (p: string): string => fs.readFileSync(new URL(`../../examples/${p}`, import.meta.url), 'utf8');
const defaults = loadConfig({ env: {} }).config;

test('Splunk sink: AvroConverter, the ccompat registry URL, the default topic', (t) => {
  const props = Object.fromEntries(read('splunk-connect-kafka/conntrail-splunk-sink.properties').split('\n')
    .filter((l) => /^[a-z]/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.is(props['value.converter'], 'io.confluent.connect.avro.AvroConverter');
  t.is(props['value.converter.schema.registry.url'], LOCAL_REGISTRY_URL);
  t.is(props.topics, defaults.kafka.topic);
  t.is(props['splunk.hec.use.record.timestamp'], 'true');
});

test('Logstash: kafka input with schema_registry_url and no value_deserializer_class beside it', (t) => {
  const conf = read('logstash/conntrail.conf');
  const avroInput = conf.slice(conf.indexOf('id => "conntrail_avro"'), conf.indexOf('# kafka {'));
  t.true(avroInput.includes(`schema_registry_url => "${LOCAL_REGISTRY_URL}"`));
  t.false(avroInput.includes('value_deserializer_class'));
  t.true(avroInput.includes(`topics => ["${defaults.kafka.topic}"]`));
});

test('Filebeat: kafka input with the ndjson parser into the root', (t) => {
  const doc = YAML.parse(read('filebeat/filebeat.yml')) as { 'filebeat.inputs': { type: string; topics: string[]; parsers: { ndjson?: { target: string; overwrite_keys: boolean } }[] }[] };
  const input = doc['filebeat.inputs'][0];
  t.is(input?.type, 'kafka');
  t.deepEqual(input?.topics, [defaults.kafka.topic]);
  t.deepEqual(input?.parsers[0]?.ndjson?.target, '');
  t.true(input?.parsers[0]?.ndjson?.overwrite_keys);
});
