// Connect-rate cost of the capture: connect-flood (one C process, loopback,
// closed port) flat out for a few seconds, bare and with the capture attached
// (decoding every record into events in this Node process). Alternates rounds.
//   node bpf/tools/bench-connect-rate.ts [seconds=4] [rounds=3] [raw]
// "raw": count records from onBatch without decoding (the addon alone).
// CONNTRAIL_BENCH_EXTRAS=0: without the extras (outcome, connect_exit, exec).
// CONNTRAIL_BENCH_CONNECT_EXIT_TRACEPOINT=1: connect_exit by the syscall tracepoint where fexit is refused.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openCapture } from 'bpf-native-loader';
import { CaptureSource } from '../../producer/source/capture.ts';

const FLOOD = fileURLToPath(new URL('../.output/connect-flood', import.meta.url));
const seconds = Number(process.argv[2] ?? 4);
const rounds = Number(process.argv[3] ?? 3);
const raw = process.argv[4] === 'raw';
const extras = process.env.CONNTRAIL_BENCH_EXTRAS !== '0';
const extraOpts = {
  captureOutcome: extras, captureConnectExit: extras, captureExec: extras,
  connectExitTracepoint: process.env.CONNTRAIL_BENCH_CONNECT_EXIT_TRACEPOINT === '1',
};

function floodRate(): Promise<number> {
  return new Promise((resolve, reject) => {
    // async spawn so that this process keeps draining batches meanwhile
    import('node:child_process').then(({ execFile }) => {
      execFile(FLOOD, ['-d', String(seconds)], (err, stdout) => {
        if (err) return reject(err);
        resolve(Number(/rate=(\d+)/.exec(stdout)?.[1] ?? 0));
      });
    }, reject);
  });
}

interface Attached { stop(): Promise<void>; received(): number; drops(): number }

function attach(): Attached {
  if (raw) {
    let n = 0;
    let drops = 0;
    const h = openCapture({ captureDns: true, ...extraOpts, onBatch(b) { n += b.data.length; drops = b.drops.connectRingFull; } });
    return { stop: () => h.stop(), received: () => n / 104, drops: () => drops };
  }
  let n = 0;
  const src = CaptureSource.open({ ...extraOpts, onEvents(evs) { n += evs.length; } });
  return { stop: () => src.stop(), received: () => n, drops: () => src.counters().drops.connectRingFull };
}

execFileSync(FLOOD, ['-d', '0.5']); // warm up
const bare: number[] = [];
const captured: number[] = [];
for (let r = 0; r < rounds; r++) {
  bare.push(await floodRate());
  const a = attach();
  const rate = await floodRate();
  await new Promise((res) => setTimeout(res, 100));
  await a.stop();
  captured.push(rate);
  console.log(`round ${r + 1}: bare ${bare.at(-1)}/s, captured ${rate}/s, received ${Math.round(a.received())}, kernel drops ${a.drops()}`);
}
const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`median bare ${med(bare)}/s, with capture ${med(captured)}/s, ratio ${(med(captured) / med(bare)).toFixed(3)}${raw ? ' (raw batches)' : ' (decoded events)'}`);
