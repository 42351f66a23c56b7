/**
 * Nothing lost across a crash (issue 13): `conntrail run` with the disk spool
 * and the pinned capture is SIGKILLed while connects keep coming, stays down
 * 10 s while more come, and is started again on the same spool and pins. Every
 * connect made before, during and after the kill is on the topic (at least
 * once: a record replayed from the spool keeps its eventId), read back by an
 * independent consumer through the registry.
 */
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { startConntrail } from '../helpers/conntrail-process.ts';
import { brokerList, integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';
import { consume, deleteTopics, uniqueName } from '../publish/helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` connects to `port`, `perSecond` a second. */
async function connects(port: number, count: number, perSecond: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(); });
      s.on('error', reject);
    });
    await sleep(1000 / perSecond);
  }
}

await integrationTest('SIGKILL, 10 s down, restart: with the spool and the pinned capture every connect before, during and after is published', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const topic = uniqueName('e2e-restart');
  const pinPath = `/sys/fs/bpf/conntrail-test-${randomUUID().slice(0, 8)}`;
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-spool-'));
  const config = {
    kafka: { brokers: brokerList(KAFKA_BROKERS), topic, batch: { lingerMs: 5 } },
    registry: { url: REGISTRY_URL },
    capture: { persist: true, pinPath },
    spool: { directory: spoolDir, segmentBytes: 1 << 20, maxBytes: 64 << 20 },
    agent: { heartbeatSec: 0 },
    telemetry: { enabled: false },
    log: { statsIntervalSec: 0 },
  };
  t.teardown(async () => {
    spawnSync(process.execPath, ['producer/cli.ts', 'detach'], { env: { ...process.env, CONNTRAIL_CAPTURE_PIN_PATH: pinPath } });
    fs.rmSync(spoolDir, { recursive: true, force: true });
    await deleteTopics([topic]).catch(() => {});
  });
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;

  const first = await startConntrail(t, config);
  t.true(first.lines.some((l) => /capture: persisted at/.test(l)), 'the first run pins its capture');
  // connects while it runs; SIGKILL in the middle of them
  const before = connects(port, 300, 200);
  await sleep(800);
  first.child.kill('SIGKILL');
  await first.exited;
  await before;
  // 10 s with no conntrail: the pinned programs keep filling the ring
  await connects(port, 300, 30);
  const second = await startConntrail(t, config);
  t.true(second.lines.some((l) => /capture: adopted the \w+ capture pinned at/.test(l)), `the second run adopts the pinned capture:\n${second.lines.slice(0, 8).join('\n')}`);
  await connects(port, 200, 200);
  const total = 800;

  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const mine = (r: NetTCPConnect): boolean => r.process.pid === process.pid && r.dstPort === port;
  const seen = new Map<string, NetTCPConnect>();
  const deadline = Date.now() + 90_000;
  while (seen.size < total && Date.now() < deadline) {
    for (const m of await consume(topic, total, { timeoutMs: 15_000, settleMs: 1000 })) {
      const r = (await registry.decode(m.value)) as NetTCPConnect;
      if (mine(r)) seen.set(r.eventId, r);
    }
  }
  second.child.kill('SIGTERM');
  t.is(await second.exited, 0);
  t.is(seen.size, total, `every connect once by eventId (before, during and after the kill): ${seen.size} of ${total}`);
  const stamps = [...seen.values()].map((r) => r.timestamp);
  t.is(new Set(stamps).size, total, 'distinct connects, not one replayed many times');
});
