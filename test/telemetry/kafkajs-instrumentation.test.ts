// telemetry.kafkajsInstrumentation: @opentelemetry/instrumentation-kafkajs
// hooks kafkajs imported after startTelemetry() (ESM import of CommonJS, via
// the import hook), makes one `send <topic>` span per message, which a real
// collector receives; and what that costs, measured against the same sends
// without it (the numbers are logged; README.md quotes a run).
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { brokerList, KAFKA_BROKERS } from '../helpers/require.ts';
import { attr, collectorTest, startCollector } from './collector.ts';

const SCRIPT = fileURLToPath(new URL('./fixtures/kafkajs-cost.ts', import.meta.url));

interface CostLine {
  mode: string;
  count: number;
  wallMs: number;
  cpuMs: number;
  instrumented: boolean;
}

function run(args: string[]): Promise<CostLine> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      const line = stdout.trim().split('\n').pop()!;
      resolve(JSON.parse(line) as CostLine);
    });
  });
}

await collectorTest('instrumentation-kafkajs (switch on): one send span per message reaches the collector; its cost measured', ['kafka'], async (t) => {
  const col = await startCollector(t);
  const brokers = brokerList(KAFKA_BROKERS).join(',');
  const topic = `kafkajs-instr-${randomUUID().slice(0, 8)}`;

  const on = await run(['on', brokers, topic, '300', '100', col.endpoint]);
  t.true(on.instrumented);
  // 300 measured + 100 warm-up messages, one span each.
  const spans = await col.waitForSpans((s) => s.filter((x) => x.name === `send ${topic}`).length >= 400);
  const sends = spans.filter((x) => x.name === `send ${topic}`);
  t.is(sends.length, 400);
  t.is(attr(sends[0]!.attributes, 'messaging.system'), 'kafka');

  const off = await run(['off', brokers, `${topic}-off`, '300', '100', col.endpoint]);
  t.false(off.instrumented);
  t.is(col.spans().filter((x) => x.name === `send ${topic}-off`).length, 0, 'switch off: no per-message spans');

  // The cost, on a larger run: CPU per message with and without it.
  const n = '20000';
  const offBig = await run(['off', brokers, `${topic}-cost-off`, n, '1000', col.endpoint]);
  const onBig = await run(['on', brokers, `${topic}-cost-on`, n, '1000', col.endpoint]);
  const us = (l: CostLine) => (l.cpuMs * 1000) / l.count;
  t.log(`kafkajs send, ${n} messages in batches of 1000: CPU ${us(offBig).toFixed(1)} us/message without, ${us(onBig).toFixed(1)} us/message with instrumentation-kafkajs; wall ${offBig.wallMs.toFixed(0)} vs ${onBig.wallMs.toFixed(0)} ms`);
  t.true(us(onBig) > us(offBig), 'per-message spans cost CPU');
});
