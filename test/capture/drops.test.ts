// Drops: with a tiny ring buffer and a burst, every connect is either received
// or counted as dropped in the kernel: generated = received + drops.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Collector, FLOOD, captureTest, ownCgroup, refusedPort, sleep } from './support.ts';

await captureTest('a burst into a tiny ring buffer: generated = received + counted drops', async (t) => {
  // a cgroup of our own, so that only the burst's connects are seen
  const cg = ownCgroup(t);
  const c = new Collector({
    cgroupPath: cg, captureDns: false, ringBytes: 4096, wakeupBytes: 1 << 30, pollIntervalMs: 50,
  });
  const port = await refusedPort();
  const N = 20000;
  const child = spawn('/bin/sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${FLOOD} -a 127.0.0.1 -p ${port} -n ${N}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const [code] = (await once(child, 'exit')) as [number];
  t.is(code, 0);
  t.regex(out, new RegExp(`connects=${N} `));
  await sleep(200);
  await c.stop();
  const received = c.connects((e) => e.pid === child.pid).length;
  const k = c.source.counters().kernel;
  t.log(`generated ${N}, received ${received}, dropped ${k.connectRingFull}, batches ${c.batches}`);
  t.is(k.connectSeen, N, 'the probe saw every connect');
  t.true(k.connectRingFull > 0, 'the tiny ring overflowed');
  t.true(received > 0);
  t.is(received + k.connectRingFull, N);
  const { drops, malformed } = c.source.counters();
  const counted = [...Object.values(drops), ...Object.values(malformed)].reduce((a, b) => a + b, 0);
  t.is(c.source.dropTotal(), counted, "dropTotal() (the heartbeat's once-a-second read) is the sum of the counted drops");
  t.is(c.source.counters().received.connect, received, 'nothing else in this cgroup');
});

await captureTest('pause() stops draining (the kernel counts the drops), resume() goes on', async (t) => {
  const cg = ownCgroup(t);
  const c = new Collector({ cgroupPath: cg, captureDns: false, ringBytes: 1 << 16, pollIntervalMs: 5 });
  const port = await refusedPort();
  const burst = async (n: number): Promise<number> => {
    const child = spawn('/bin/sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${FLOOD} -a 127.0.0.1 -p ${port} -n ${n}`], { stdio: 'ignore' });
    await once(child, 'exit');
    return child.pid!;
  };
  c.source.pause();
  const p1 = await burst(5000);
  await sleep(100);
  t.is(c.connects((e) => e.pid === p1).length, 0, 'nothing delivered while paused');
  c.source.resume();
  const p2 = await burst(100);
  await c.waitFor('the second burst', () => c.connects((e) => e.pid === p2).length === 100);
  await c.stop();
  const k = c.source.counters().kernel;
  const got1 = c.connects((e) => e.pid === p1).length;
  t.true(k.connectRingFull > 0, 'the paused ring overflowed');
  t.is(got1 + k.connectRingFull, 5000, 'the first burst: what fit in the ring, plus drops');
  t.true((c.source.counters().native?.stalls ?? 0) > 0);
});
