// KafkaSink with the disk spool, over a transport that can be "down" (no
// broker: the logic of spilling, reading back and acknowledging; the real
// broker's outage test is test/publish/spool-outage.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { loadConfig } from '../../producer/config/load.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';

class SwitchTransport implements SinkTransport {
  up = true;
  sent: QueuedMessage[] = [];
  async connect(): Promise<void> {}
  async ensureTopic(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(messages: QueuedMessage[]): Promise<unknown> {
    await sleep(1);
    if (!this.up) throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    this.sent.push(...messages);
    return [];
  }
}

const base = sampleRecord();
const records = (from: number, n: number): NetTCPConnect[] =>
  Array.from({ length: n }, (_, k) => ({ ...base, eventId: `evt-${String(from + k).padStart(8, '0')}`, timestamp: base.timestamp + (from + k) * 1000 }));
const ids = (ms: QueuedMessage[]): string[] => ms.map((m) => (JSON.parse(m.value.toString()) as { event: { id: string } }).event.id);
const expected = (n: number): string[] => records(0, n).map((r) => r.eventId);

function sinkConfig(dir: string) {
  const { config } = loadConfig({
    env: {},
    overrides: {
      kafka: { retry: { initialRetryTimeMs: 5, maxRetryTimeMs: 20 }, batch: { lingerMs: 1, maxRecords: 100 } },
      queue: { maxRecords: 200 },
      spool: { directory: dir, segmentBytes: 64 * 1024, maxBytes: 64 * 1024 * 1024 },
    },
  });
  return config;
}

async function pushDuringOutage(sink: KafkaSink, tr: SwitchTransport, total: number): Promise<{ diskOnlyMax: number }> {
  let diskOnlyMax = 0;
  await sink.start();
  sink.push(records(0, 100));
  await sink.flush(5000);
  tr.up = false;
  for (let i = 100; i < total; i += 100) {
    sink.push(records(i, 100));
    diskOnlyMax = Math.max(diskOnlyMax, sink.stats().spool?.diskOnly ?? 0);
    await sleep(1);
  }
  return { diskOnlyMax };
}

test('an outage 20x the memory queue: records spill to disk and all arrive once, in order, 0 drops', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-sink-spool-'));
  const tr = new SwitchTransport();
  const sink = new KafkaSink(sinkConfig(dir), new EcsJsonEncoder(), undefined, { transport: tr });
  const total = 4000;
  const { diskOnlyMax } = await pushDuringOutage(sink, tr, total);
  t.true(diskOnlyMax > 3000, `records waited on disk only (${diskOnlyMax})`);
  tr.up = true;
  t.true(await sink.flush(30_000));
  const s = sink.stats();
  t.is(s.droppedTotal, 0);
  t.deepEqual(ids(tr.sent), expected(total));
  t.is(s.spool?.records, 0, 'everything acknowledged');
  await sink.stop(1000);
});

test('stop() during an outage keeps what is unacknowledged in the spool; the next sink sends it first, then new records', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-sink-spool-'));
  const tr = new SwitchTransport();
  const sink = new KafkaSink(sinkConfig(dir), new EcsJsonEncoder(), undefined, { transport: tr });
  await pushDuringOutage(sink, tr, 3000);
  await sink.stop(200);
  const s = sink.stats();
  t.is(s.drops.shutdown_unflushed, 0, 'not lost: kept on disk');
  t.is(s.droppedTotal, 0);

  const tr2 = new SwitchTransport();
  const next = new KafkaSink(sinkConfig(dir), new EcsJsonEncoder(), undefined, { transport: tr2 });
  t.is(next.stats().spool?.replayed, 2900, 'the 2,900 pushed during the outage');
  await next.start();
  next.push(records(3000, 500));
  t.true(await next.flush(30_000));
  t.deepEqual(ids(tr.sent), expected(100));
  t.deepEqual(ids(tr2.sent), expected(3500).slice(100));
  await next.stop(1000);
});

test('after flush() resolves true the spool\'s cursor on disk has every acknowledgement: a crash then sends nothing again', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-sink-spool-'));
  const tr = new SwitchTransport();
  const sink = new KafkaSink(sinkConfig(dir), new EcsJsonEncoder(), undefined, { transport: tr });
  await sink.start();
  sink.push(records(0, 100));
  t.true(await sink.flush(5000));
  // acknowledged within the cursor's write interval of the first flush: only flush() writes them now
  sink.push(records(100, 400));
  t.true(await sink.flush(5000));
  // the files as a SIGKILL would leave them (the copy without the running sink's lock)
  const crashed = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-sink-spool-crashed-'));
  for (const f of fs.readdirSync(dir)) if (f !== 'lock') fs.copyFileSync(path.join(dir, f), path.join(crashed, f));
  const next = new KafkaSink(sinkConfig(crashed), new EcsJsonEncoder(), undefined, { transport: new SwitchTransport() });
  t.is(next.stats().spool?.replayed, 0);
  await next.stop(100);
  await sink.stop(1000);
});

test('the same outage without the spool drops what the queue cannot hold (queue_full_records): the spool is what saves them', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-sink-spool-'));
  const cfg = sinkConfig(dir);
  const tr = new SwitchTransport();
  const sink = new KafkaSink({ ...cfg, spool: { ...cfg.spool, directory: '' } }, new EcsJsonEncoder(), undefined, { transport: tr });
  await pushDuringOutage(sink, tr, 4000);
  tr.up = true;
  t.true(await sink.flush(30_000));
  const s = sink.stats();
  t.is(s.spool, null);
  t.true(s.drops.queue_full_records > 3000, `${s.drops.queue_full_records} dropped`);
  t.is(tr.sent.length + s.droppedTotal, 4000);
  await sink.stop(1000);
});
