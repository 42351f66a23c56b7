// `conntrail schema register|check|list` against the real registry, as a user runs them.
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { integrationTest, REGISTRY_URL } from '../helpers/require.ts';

function conntrailSchema(action: string, topic: string, extra: string[] = [], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['producer/cli.ts', 'schema', action, ...extra], {
    encoding: 'utf8',
    env: { ...process.env, CONNTRAIL_REGISTRY_URL: REGISTRY_URL, CONNTRAIL_KAFKA_TOPIC: topic, CONNTRAIL_REGISTRY_STARTUP_RETRY_MS: '0', ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

await integrationTest('schema register, check and list a new subject', ['registry'], async (t) => {
  const topic = `schema-cli-${randomUUID().slice(0, 8)}`;
  const subject = `${topic}-value`;
  const empty = conntrailSchema('list', topic);
  t.is(empty.code, 0, empty.err);
  t.regex(empty.out, new RegExp(`subject ${subject} .*\\n  no versions registered`));

  const reg = conntrailSchema('register', topic);
  t.is(reg.code, 0, reg.err);
  t.regex(reg.out, new RegExp(`^registered: subject ${subject} version 1 id \\d+`));
  t.regex(conntrailSchema('register', topic).out, /^already registered: .* version 1 /);

  const check = conntrailSchema('check', topic);
  t.is(check.code, 0);
  t.regex(check.out, /^ok: the bundled schema is version 1 /);

  const list = conntrailSchema('list', topic);
  t.regex(list.out, /version 1 id \d+ \(the bundled schema\): eventId, eventName, timestamp, host, process/);
});

await integrationTest('schema register --status: the heartbeat\'s AgentStatus schema under agent.statusTopic\'s subject, apart from the records\'', ['registry'], async (t) => {
  const topic = `schema-cli-${randomUUID().slice(0, 8)}`;
  const statusTopic = `${topic}.status`;
  const env = { CONNTRAIL_AGENT_STATUS_TOPIC: statusTopic };
  const reg = conntrailSchema('register', topic, ['--status'], env);
  t.is(reg.code, 0, reg.err);
  t.regex(reg.out, new RegExp(`^registered: subject ${statusTopic.replace(/\./g, '\\.')}-value version 1 id \\d+`));
  const list = conntrailSchema('list', topic, ['--status'], env);
  t.regex(list.out, /version 1 id \d+ \(the bundled schema\): eventId, eventName, timestamp, intervalStart, host, agent, captured, published, drops/);
  t.regex(conntrailSchema('check', topic, ['--status'], env).out, /^ok: the bundled schema is version 1 /);
  t.regex(conntrailSchema('list', topic, [], env).out, /no versions registered/, 'the records\' subject is untouched');
});

await integrationTest('schema check: an incompatible subject gives the subject, versions and reasons, exit 1', ['registry'], async (t) => {
  const topic = `schema-cli-${randomUUID().slice(0, 8)}`;
  const subject = `${topic}-value`;
  // An older, smaller NetTCPConnect under the subject: the bundled schema adds
  // fields without defaults, so it cannot read that data (BACKWARD refuses it).
  const old = { type: 'record', name: 'NetTCPConnect', namespace: 'io.conntrail', fields: [{ name: 'eventId', type: 'string' }] };
  const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
  const put = await fetch(`${REGISTRY_URL}/config/${subject}`, { method: 'PUT', headers, body: JSON.stringify({ compatibility: 'BACKWARD' }) });
  t.true(put.ok);
  const posted = await fetch(`${REGISTRY_URL}/subjects/${subject}/versions`, { method: 'POST', headers, body: JSON.stringify({ schema: JSON.stringify(old) }) });
  t.true(posted.ok);

  const check = conntrailSchema('check', topic);
  t.is(check.code, 1);
  t.regex(check.out, new RegExp(`^incompatible: the bundled schema cannot be registered under subject ${subject} .*compatibility BACKWARD, versions \\[1\\]:`));
  t.regex(check.out, /\n {2}- .+/, 'at least one reason');

  const reg = conntrailSchema('register', topic);
  t.is(reg.code, 1);
  t.is(reg.err.trim().split('\n').length, 1, 'one line');
  t.regex(reg.err, new RegExp(`^conntrail: .*${subject}`));
});
