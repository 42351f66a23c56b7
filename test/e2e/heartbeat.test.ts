/**
 * The heartbeat end to end: `conntrail run` (the real CLI, real capture, the
 * local broker and registry) sends AgentStatus records to its status topic at
 * start, every agent.heartbeatSec and at stop; an independent consumer reads
 * them back (Avro through the registry, under the status topic's own subject;
 * or ECS JSON) and checks what a SIEM would alert on: the host, the version, the
 * probe, contiguous intervals whose counts add up, and drops with their range.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { AgentStatus } from '../../producer/model/agent-status.ts';
import { startConntrail } from '../helpers/conntrail-process.ts';
import { connectTimes } from '../helpers/connects.ts';
import { brokerList, integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';
import { consume, deleteSubjects, deleteTopics, uniqueName } from '../publish/helpers.ts';

const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function config(topic: string, statusTopic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kafka: { brokers: brokerList(KAFKA_BROKERS), topic, batch: { lingerMs: 5 } },
    registry: { url: REGISTRY_URL },
    agent: { heartbeatSec: 1, statusTopic },
    telemetry: { enabled: false },
    log: { statsIntervalSec: 0 },
    ...extra,
  };
}

/** enrich.outcomeWaitMs as shipped: these runs keep it. */
const OUTCOME_WAIT_MS = (JSON.parse(fs.readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as { enrich: { outcomeWaitMs: number } }).enrich.outcomeWaitMs;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

await integrationTest('heartbeat: Avro status records at start, every second and at stop, under their own subject, intervals contiguous', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = uniqueName('e2e-hb');
  const statusTopic = `${topic}.status`;
  t.teardown(async () => { await deleteTopics([topic, statusTopic]).catch(() => {}); await deleteSubjects([`${topic}-value`, `${statusTopic}-value`]).catch(() => {}); });
  const run = await startConntrail(t, config(topic, statusTopic));
  const probe = /connect probe (\w+) attached/.exec(run.lines.join('\n'))?.[1] ?? 'none said';
  await connectTimes(20);
  await sleep(3500);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0);

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const messages = await consume(statusTopic, 4, { timeoutMs: 30_000 });
  const records = await Promise.all(messages.map(async (m) => ({ key: m.key, r: (await registry.decode(m.value)) as AgentStatus })));
  records.sort((a, b) => a.r.agent.sequence - b.r.agent.sequence);
  t.true(records.length >= 4, `the first at start, about 3 in 3.5 s, one at stop: got ${records.length}`);
  const subjects = await (await fetch(`${REGISTRY_URL}/subjects`)).json() as string[];
  t.true(subjects.includes(`${statusTopic}-value`), 'the status schema is registered under the status topic\'s own subject');

  const first = records[0]!.r;
  records.forEach(({ key, r }, i) => {
    t.is(key, os.hostname(), 'keyed by host name');
    t.is(r.eventName, 'AgentStatus');
    t.is(r.host.name, os.hostname());
    t.is(r.agent.version, VERSION);
    t.is(r.agent.probe, probe);
    t.is(r.agent.startedAt, first.agent.startedAt, 'one process: one start time');
    t.is(r.agent.sequence, i + 1, 'every record made was sent');
    t.is(r.drops.total, 0);
    t.is(r.lossStart, null);
    if (i > 0) t.is(r.intervalStart, records[i - 1]!.r.timestamp, 'each interval starts where the last acknowledged one ended');
  });
  t.is(first.intervalStart, first.agent.startedAt, 'the first interval starts at the agent\'s start');
  const captured = records.reduce((n, { r }) => n + r.captured, 0);
  const published = records.reduce((n, { r }) => n + r.published, 0);
  t.true(captured >= 20, `the 20 connects (and the host's others) are counted: ${captured}`);
  t.true(published >= 20 && published <= captured, `published ${published} of captured ${captured}`);
  t.not(records.at(-1)!.r.lastPublishAt, null);
  t.true(run.lines.some((l) => l.includes('schema registered (auto-register)') && l.includes(`${statusTopic}-value`)));
});

await integrationTest('heartbeat: ECS status documents count the records a full queue dropped, with the range they fell in', ['root', 'bpf', 'kafka'], async (t) => {
  const topic = uniqueName('e2e-hb-ecs');
  const statusTopic = `${topic}.status`;
  t.teardown(async () => { await deleteTopics([topic, statusTopic]).catch(() => {}); });
  // every record is larger than the queue: each one is dropped as record_too_large
  const run = await startConntrail(t, config(topic, statusTopic, { encoding: { format: 'ecs-json' }, queue: { maxBytes: 16 } }));
  const before = Date.now();
  await connectTimes(30);
  const after = Date.now();
  await sleep(2500);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0);

  type Doc = {
    '@timestamp': string; event: Record<string, unknown>; agent: Record<string, unknown>;
    conntrail: { drops: Record<string, number>; loss: { start?: string; end?: string } };
  };
  const docs = (await consume(statusTopic, 3, { timeoutMs: 30_000 })).map((m) => JSON.parse(m.value.toString()) as Doc);
  t.true(docs.length >= 3);
  for (const d of docs) {
    t.is(d.event.kind, 'metric');
    t.is(d.event.dataset, 'conntrail.agent_status');
    t.is(d.agent.type, 'conntrail');
    t.is(d.agent.version, VERSION);
  }
  const dropped = docs.reduce((n, d) => n + d.conntrail.drops.queue!, 0);
  t.true(dropped >= 30, `the 30 connects dropped by the queue are counted: ${dropped}`);
  t.is(docs.reduce((n, d) => n + d.conntrail.drops.total!, 0), dropped, 'nothing else lost');
  const lossy = docs.filter((d) => d.conntrail.drops.total! > 0);
  for (const d of lossy) {
    const start = Date.parse(d.conntrail.loss.start!);
    const end = Date.parse(d.conntrail.loss.end!);
    t.true(start <= end && end <= Date.parse(d['@timestamp']), 'the loss range lies within its interval');
  }
  // a record reaches the queue (and is dropped there) after its connect, once the
  // outcome join has its outcome (at most enrich.outcomeWaitMs); the range's ends
  // are observations about a second apart
  const earliest = Math.min(...lossy.map((d) => Date.parse(d.conntrail.loss.start!)));
  const latest = Math.max(...lossy.map((d) => Date.parse(d.conntrail.loss.end!)));
  const range = `the loss range [${new Date(earliest).toISOString()}, ${new Date(latest).toISOString()}], the connects ${new Date(before).toISOString()}..${new Date(after).toISOString()}`;
  t.true(latest >= before && earliest <= after + OUTCOME_WAIT_MS + 1500, `${range}: the drops fell in the range`);
  t.true(earliest >= before - 1500, `${range}: it starts no earlier than the observation before the connects`);
  for (const d of docs.filter((x) => x.conntrail.drops.total! === 0)) t.is(d.conntrail.loss.start, undefined);
});

await integrationTest('heartbeat: with registry.mode latest and no status subject, records still flow; once `schema register --status` adds it the next status record covers the whole time', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = uniqueName('e2e-hb-latest');
  const statusTopic = `${topic}.status`;
  t.teardown(async () => { await deleteTopics([topic, statusTopic]).catch(() => {}); await deleteSubjects([`${topic}-value`, `${statusTopic}-value`]).catch(() => {}); });
  const schema = (...extra: string[]) => spawnSync(process.execPath, ['producer/cli.ts', 'schema', 'register', ...extra], {
    encoding: 'utf8', env: { ...process.env, CONNTRAIL_REGISTRY_URL: REGISTRY_URL, CONNTRAIL_KAFKA_TOPIC: topic, CONNTRAIL_AGENT_STATUS_TOPIC: statusTopic },
  });
  t.is(schema().status, 0, 'the records\' subject is registered, the status one not');
  const run = await startConntrail(t, config(topic, statusTopic, { registry: { url: REGISTRY_URL, mode: 'latest' } }));
  const deadline = Date.now() + 15_000;
  while (!run.lines.some((l) => l.includes('status record not sent')) && Date.now() < deadline) await sleep(200);
  const warning = run.lines.find((l) => l.includes('status record not sent'));
  t.truthy(warning, 'the missing status subject is said');
  t.regex(warning ?? '', new RegExp(`${statusTopic.replace(/\./g, '\\.')}-value`));
  await connectTimes(5);
  t.is(schema('--status').status, 0);
  await sleep(2500);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0, 'the pipeline ran throughout');
  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const records = (await Promise.all((await consume(statusTopic, 2, { timeoutMs: 30_000 })).map(async (m) => (await registry.decode(m.value)) as AgentStatus)))
    .sort((a, b) => a.agent.sequence - b.agent.sequence);
  t.true(records.length >= 2);
  const first = records[0]!;
  t.true(first.agent.sequence > 1, `the records made before the subject existed were not sent (first sent: ${first.agent.sequence})`);
  t.is(first.intervalStart, first.agent.startedAt, 'the first one sent covers the time since the start');
  t.true(first.captured >= 5);
});
