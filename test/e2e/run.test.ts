/**
 * `conntrail run` end to end, as a user runs it: the real CLI in its own
 * process with real capture (root, BPF), the local Kafka broker and registry.
 * This test process makes the connects (conntrail excludes only its own), and
 * an independent kafkajs consumer reads the topic and decodes every message
 * through the registry (Avro) or as JSON (ECS).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { communityId } from '../../producer/model/community-id.ts';
import { startConntrail } from '../helpers/conntrail-process.ts';
import { connectTimes } from '../helpers/connects.ts';
import { brokerList, integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';


/** Reads the topic from the start until `done` says enough (or the timeout). */
async function consume<T>(topic: string, decode: (value: Buffer) => Promise<T>, done: (all: T[]) => boolean, timeoutMs = 30_000): Promise<T[]> {
  const kafka = new Kafka({ clientId: 'conntrail-e2e-consumer', brokers: brokerList(KAFKA_BROKERS), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `e2e-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: T[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const timer = setTimeout(finish, timeoutMs);
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen.push(await decode(message.value as Buffer));
      if (done(seen)) finish();
    },
  });
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}

function baseConfig(topic: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kafka: { brokers: brokerList(KAFKA_BROKERS), topic, batch: { lingerMs: 5 } },
    registry: { url: REGISTRY_URL },
    telemetry: { enabled: false },
    log: { statsIntervalSec: 1 },
    ...extra,
  };
}

const N = 25;

await integrationTest('run: connects made by another process arrive on the topic as Avro, exact count and fields', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = `e2e-avro-${randomUUID().slice(0, 8)}`;
  const producer = await startConntrail(t, baseConfig(topic));
  const port = await connectTimes(N);

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const mine = (r: NetTCPConnect): boolean => r.process.pid === process.pid && r.dstPort === port;
  const records = (await consume(topic, (v) => registry.decode(v) as Promise<NetTCPConnect>, (all) => all.filter(mine).length >= N)).filter(mine);

  producer.child.kill('SIGTERM');
  t.is(await producer.exited, 0, 'SIGTERM flushes and exits 0');
  t.true(producer.lines.some((l) => l.includes('"msg":"stopped"')));
  t.true(producer.lines.some((l) => l.includes('left root after attaching')), 'started as root, it leaves root once attached');

  t.is(records.length, N, 'exactly one record per connect');
  const exe = fs.realpathSync(process.execPath);
  for (const r of records) {
    t.is(r.eventName, 'NetTCPConnect');
    t.is(r.dstIP, '127.0.0.1');
    t.is(r.dstPort, port);
    t.is(r.family, 'AF_INET');
    t.deepEqual(r.results, []);
    t.is(r.process.pid, process.pid);
    t.is(r.process.uid, process.getuid!());
    t.is(r.process.ppid, process.ppid);
    t.is(r.process.exe, exe);
    t.is(r.host.name, os.hostname());
    t.regex(r.eventId, /^[0-9a-f-]{36}$/);
    t.true(Math.abs(r.timestamp / 1000 - Date.now()) < 120_000, 'timestamp is wall-clock µs');
  }
  t.is(new Set(records.map((r) => r.eventId)).size, N, 'event ids are unique');
  const times = records.map((r) => r.timestamp);
  t.deepEqual(times, [...times].sort((a, b) => a - b), 'one process = one key: its connects arrive in order');
});

await integrationTest('run: ECS JSON encoding, field by field', ['root', 'bpf', 'kafka'], async (t) => {
  const topic = `e2e-ecs-${randomUUID().slice(0, 8)}`;
  const producer = await startConntrail(t, baseConfig(topic, { encoding: { format: 'ecs-json' } }));
  const port = await connectTimes(3);
  type Ecs = Record<string, Record<string, unknown>> & { '@timestamp': string };
  const mine = (d: Ecs): boolean => (d.process as { pid: number }).pid === process.pid && d.destination?.port === port;
  const docs = (await consume(topic, async (v) => JSON.parse(v.toString()) as Ecs, (all) => all.filter(mine).length >= 3)).filter(mine);
  producer.child.kill('SIGTERM');
  t.is(await producer.exited, 0);

  t.is(docs.length, 3);
  const d = docs[0]!;
  t.regex(d['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  t.is(d.event?.kind, 'event');
  t.deepEqual(d.event?.category, ['network']);
  t.deepEqual(d.event?.type, ['connection', 'start']);
  t.is(d.network?.direction, 'egress');
  t.is(d.network?.transport, 'tcp');
  t.is(d.network?.type, 'ipv4');
  t.is(d.destination?.ip, '127.0.0.1');
  t.is(d.destination?.port, port);
  t.is(d.destination?.domain, undefined, 'no DNS name: no destination.domain');
  t.is((d.process as { executable: string }).executable, fs.realpathSync(process.execPath));
  t.is((d.process as { parent: { pid: number } }).parent.pid, process.ppid);
  t.is(d.user?.id, String(process.getuid!()));
  t.is(d.host?.name, os.hostname());
});

await integrationTest('run: a child process\'s connect carries its argv, start time, entity id, parent, ancestors and user and group names', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = `e2e-proc-${randomUUID().slice(0, 8)}`;
  const producer = await startConntrail(t, baseConfig(topic));
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const marker = `marker-${randomUUID().slice(0, 8)}`;
  // the child stays a moment after its connect, so that /proc still has it when conntrail looks
  const code = `const s = require('net').connect(${port}, '127.0.0.1', () => { s.destroy(); setTimeout(() => {}, 1500); });`;
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, ['-e', code, marker, 'two words'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const mine = (r: NetTCPConnect): boolean => r.process.pid === child.pid && r.dstPort === port;
  const records = (await consume(topic, (v) => registry.decode(v) as Promise<NetTCPConnect>, (all) => all.some(mine))).filter(mine);
  await exited;
  server.close();
  producer.child.kill('SIGTERM');
  t.is(await producer.exited, 0);

  t.is(records.length, 1);
  const p = records[0]!.process;
  t.deepEqual(p.args, [process.execPath, '-e', code, marker, 'two words']);
  t.is(p.argsCount, 5);
  t.false(p.argsTruncated);
  t.is(p.commandLine, [process.execPath, '-e', code, marker, 'two words'].join(' '));
  t.is(p.ppid, process.pid);
  t.is(p.parentExe, fs.realpathSync(process.execPath));
  t.is(p.parentComm, fs.readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
  t.true(Array.isArray(p.ancestors) && p.ancestors.length > 0, 'the test runner\'s own ancestors');
  t.is(p.userName, 'root');
  t.is(p.groupName, 'root');
  t.regex(p.entityId ?? '', /^[A-Za-z0-9_-]{22}$/);
  t.true(p.startTime !== null && Math.abs(p.startTime / 1000 - spawnedAt) < 2000, `start time ${p.startTime} near the spawn at ${spawnedAt}`);
});

await integrationTest('run: a curl that exits at once: full argv and parent (from its exec), established with the source port the server saw, its community id; a refused connect is refused', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = `e2e-curl-${randomUUID().slice(0, 8)}`;
  const producer = await startConntrail(t, baseConfig(topic));
  let peerPort = 0;
  const server = net.createServer((s) => { peerPort = s.remotePort ?? 0; s.end('HTTP/1.0 200 OK\r\n\r\nok'); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const url = `http://127.0.0.1:${port}/marker-${randomUUID().slice(0, 8)}`;
  const curl = (target: string): Promise<number> => new Promise((resolve) => {
    const c = spawn('curl', ['-s', '-o', '/dev/null', '--max-time', '5', target], { stdio: 'ignore' });
    c.on('exit', () => resolve(c.pid ?? 0));
  });
  const okPid = await curl(url);
  const refusedPid = await curl(`http://127.0.0.1:${closed}/`);
  server.close();

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const mine = (r: NetTCPConnect): boolean => r.process.pid === okPid || r.process.pid === refusedPid;
  const records = (await consume(topic, (v) => registry.decode(v) as Promise<NetTCPConnect>, (all) => all.filter(mine).length >= 2)).filter(mine);
  producer.child.kill('SIGTERM');
  t.is(await producer.exited, 0);

  const ok = records.find((r) => r.process.pid === okPid)!;
  t.truthy(ok, 'the curl that was answered');
  t.deepEqual(ok.process.args, ['curl', '-s', '-o', '/dev/null', '--max-time', '5', url]);
  t.regex(ok.process.exe ?? '', /\/curl$/);
  t.is(ok.process.ppid, process.pid);
  t.is(ok.process.parentComm, fs.readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim());
  t.is(ok.outcome, 'established');
  t.is(ok.errno, null);
  t.is(ok.srcIP, '127.0.0.1');
  t.is(ok.srcPort, peerPort, 'the source port is the one the server saw');
  t.true((ok.outcomeDelayUs ?? -1) >= 0);
  t.is(ok.communityId, communityId('127.0.0.1', peerPort, '127.0.0.1', port));
  const refused = records.find((r) => r.process.pid === refusedPid)!;
  t.truthy(refused, 'the refused curl');
  t.is(refused.outcome, 'refused');
  t.is(refused.errno, 'ECONNREFUSED');
  t.deepEqual(refused.process.args?.at(-1), `http://127.0.0.1:${closed}/`);
});

await integrationTest('run: a SYN nothing answers is published in_progress after enrich.outcomeWaitMs, with no source address', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = `e2e-blackhole-${randomUUID().slice(0, 8)}`;
  const producer = await startConntrail(t, baseConfig(topic, { enrich: { outcomeWaitMs: 300 } }));
  // a namespace where 10.77.0.0/24 goes out lo and is dropped on the way back in (not a local address)
  const ns = `ct-e2e-${randomUUID().slice(0, 6)}`;
  const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: 'ignore' }); };
  ip('netns', 'add', ns);
  t.teardown(() => { try { ip('netns', 'del', ns); } catch { /* gone */ } });
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  ip('netns', 'exec', ns, 'ip', 'route', 'add', '10.77.0.0/24', 'dev', 'lo');
  const script = "const s=require('node:net').connect(80,'10.77.0.2');s.on('error',()=>{});setTimeout(()=>{console.log(s.connecting?'pending':'done');s.destroy()},1500)";
  const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8' });
  t.is(out.trim(), 'pending', 'still unanswered when it was closed');

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const mine = (r: NetTCPConnect): boolean => r.dstIP === '10.77.0.2';
  const records = (await consume(topic, (v) => registry.decode(v) as Promise<NetTCPConnect>, (all) => all.some(mine))).filter(mine);
  producer.child.kill('SIGTERM');
  t.is(await producer.exited, 0);
  t.is(records.length, 1);
  const r = records[0]!;
  t.is(r.outcome, 'in_progress');
  t.is(r.outcomeDelayUs, null);
  t.is(r.srcIP, null);
  t.is(r.communityId, null);
});
