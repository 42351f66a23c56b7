// Bench-only preload for the footprint section: `node --import
// ./bench/tools/heap-probe.js <app>/producer/cli.js run` with BENCH_HEAP_FILE set.
// Plain JavaScript, as the app it measures: a .ts preload would load Node's
// TypeScript stripper (~18 MiB of RSS) into the process measured.
// On SIGUSR2 it writes one JSON line (appended) to that file: the JS heap as
// the process has it (process.memoryUsage(), v8.getHeapStatistics()), then the
// same after a full GC (what is still referenced: the live heap). Nothing else
// of the process changes; without BENCH_HEAP_FILE it does nothing.
// With BENCH_CPU_PROFILE_FILE set, SIGURG starts V8's CPU profiler in the
// process (node:inspector, loaded then, not before) and the next SIGURG stops
// it and writes the .cpuprofile to that file: the footprint section's profiled
// idle window, after its measured phases (the profiler's sampling and the
// inspector's memory would otherwise count in them).
import { appendFileSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

const file = process.env.BENCH_HEAP_FILE;
if (file) {
  v8.setFlagsFromString('--expose-gc');
  /** @type {() => void} */
  const gc = vm.runInNewContext('gc');
  let seq = 0;
  process.on('SIGUSR2', () => {
    const before = { mem: process.memoryUsage(), heap: v8.getHeapStatistics() };
    gc();
    const afterGc = { mem: process.memoryUsage(), heap: v8.getHeapStatistics() };
    appendFileSync(file, JSON.stringify({ seq: ++seq, time: Date.now(), before, afterGc }) + '\n');
  });
}

const profileFile = process.env.BENCH_CPU_PROFILE_FILE;
if (profileFile) {
  /** @type {import('node:inspector/promises').Session | null} */
  let session = null;
  let busy = false;
  const toggle = async () => {
    if (!session) {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
    } else {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = null;
      writeFileSync(profileFile, JSON.stringify(profile));
    }
  };
  process.on('SIGURG', () => {
    if (busy) return;
    busy = true;
    void toggle().finally(() => { busy = false; });
  });
}
