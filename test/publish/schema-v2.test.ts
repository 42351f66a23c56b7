// NetTCPConnect v1 -> v2 as users evolve it (issue 12): the shipped v1
// (schemas/history/NetTCPConnect.v1.avsc) is registered, the subject gets the
// BACKWARD rule, then the shipped v2 (schemas/NetTCPConnect.avsc): the registry
// accepts it, a v1 reader decodes v2 records and a v2 reader v1 records (the new
// fields at their defaults), and a registry still at v1 in latest mode makes
// conntrail write v1.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { integrationTest } from '../helpers/require.ts';
import { AvroEncoder, readWireFrame } from '../../producer/encode/avro.ts';
import { avroType, loadBundledSchema } from '../../producer/model/avro-schema.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import { checkSchema, clearSchemaCache, registerSchema, resolveWriterSchema, restClient, subjectOf } from '../../producer/registry/schema.ts';
import { deleteSubjects, plain, REGISTRY_URL, stackConfig, uniqueName } from './helpers.ts';

const V1_TEXT = fs.readFileSync(new URL('../../schemas/history/NetTCPConnect.v1.avsc', import.meta.url), 'utf8');
const V2_TOP_FIELDS = ['srcIP', 'srcPort', 'outcome', 'errno', 'outcomeDelayUs', 'communityId'];
const V2_FIELDS = ['args', 'argsCount', 'argsTruncated', 'commandLine', 'startTime', 'entityId', 'parentComm', 'parentExe', 'ancestors', 'userName', 'groupName'];

await integrationTest('schema v2 is BACKWARD-compatible with v1 in the real registry; v1 and v2 readers decode each other\'s records', ['registry'], async (t) => {
  const topic = uniqueName('v2');
  const cfg = stackConfig(topic, { registry: { mode: 'auto-register' } });
  const target = { registry: cfg.registry, topic };
  const subject = subjectOf(target);
  t.teardown(() => deleteSubjects([subject]).catch(() => {}));
  clearSchemaCache();
  const v1 = await registerSchema(target, { schemaText: V1_TEXT });
  t.is(v1.version, 1);
  await restClient(cfg.registry).setSubjectCompatibility(subject, 'BACKWARD');

  // `conntrail schema check` as a user runs it: compatible, not registered yet
  const check = spawnSync(process.execPath, ['producer/cli.ts', 'schema', 'check'], {
    encoding: 'utf8', env: { ...process.env, CONNTRAIL_REGISTRY_URL: REGISTRY_URL, CONNTRAIL_KAFKA_TOPIC: topic, CONNTRAIL_REGISTRY_STARTUP_RETRY_MS: '0' },
  });
  t.is(check.status, 0, check.stderr);
  t.regex(check.stdout, /^ok: the bundled schema is compatible with subject .*-value .*compatibility BACKWARD, versions \[1\]; `conntrail schema register` adds it/);

  // in latest mode a registry still at v1 makes conntrail write v1 (the v2 fields are left out)
  const latest = await resolveWriterSchema({ registry: { ...cfg.registry, mode: 'latest' }, topic });
  t.is(latest.id, v1.id);
  t.false(latest.bundled);
  clearSchemaCache();

  const v2 = await registerSchema(target);
  t.is(v2.version, 2, 'the registry accepts v2 under BACKWARD');
  t.true((await checkSchema(target)).registeredAs?.version === 2);

  const v1Type = avroType(V1_TEXT);
  const v2Type = loadBundledSchema().type;
  const record = sampleRecord();
  // a v2 record read with the v1 schema: the v1 fields, the new ones skipped
  const v2Body = readWireFrame(new AvroEncoder(v2.id, v2Type).encode(record)).body;
  const asV1 = plain(v1Type.fromBuffer(v2Body, v1Type.createResolver(v2Type))) as { process: Record<string, unknown> } & Record<string, unknown>;
  t.deepEqual(Object.keys(asV1.process), ['pid', 'tid', 'ppid', 'uid', 'gid', 'comm', 'exe', 'cgroupId', 'containerId']);
  t.is(asV1.process.exe, record.process.exe);
  t.deepEqual(Object.keys(asV1), ['eventId', 'eventName', 'timestamp', 'host', 'process', 'netnsCookie', 'dstIP', 'dstPort', 'family', 'results', 'probe'], 'the outcome fields (set in the sample) are skipped');
  t.is(asV1.dstPort, record.dstPort);
  t.is(asV1.probe, record.probe, 'the field before the new ones reads right');
  // a v1 record read with the v2 schema: every new field at its default (null)
  const { args: _a, argsCount: _c, argsTruncated: _t, commandLine: _l, startTime: _s, entityId: _e, parentComm: _pc, parentExe: _pe, ancestors: _an, userName: _u, groupName: _g, ...v1Process } = record.process;
  const { srcIP: _si, srcPort: _sp, outcome: _o, errno: _en, outcomeDelayUs: _d, communityId: _ci, ...v1Top } = record;
  const v1Body = v1Type.toBuffer({ ...v1Top, process: v1Process });
  const asV2 = plain(v2Type.fromBuffer(v1Body, v2Type.createResolver(v1Type))) as { process: Record<string, unknown> } & Record<string, unknown>;
  for (const f of V2_FIELDS) t.is(asV2.process[f], null, `v2 reads v1's missing ${f} as null`);
  for (const f of V2_TOP_FIELDS) t.is(asV2[f], null, `v2 reads v1's missing ${f} as null`);
  t.is(asV2.probe, record.probe);
  t.is(asV2.process.comm, record.process.comm);
});
