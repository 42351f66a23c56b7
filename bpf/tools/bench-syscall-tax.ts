// What the capture costs a process that never connects: dd copying 2,000,000
// single bytes (4M read/write system calls), CPU (user + system) per system
// call, with nothing attached, with the capture as it ships (the extras as
// this kernel allows them) and with the connect_exit tracepoint allowed (an
// enabled syscall tracepoint sends every system call through the slow exit
// path). Rounds interleave the modes.
//   node bpf/tools/bench-syscall-tax.ts [rounds=5]
import { execFileSync } from 'node:child_process';
import { openCapture } from 'bpf-native-loader';

function dd(): number {
  const out = execFileSync('bash', ['-c', 'dd if=/dev/zero of=/dev/null bs=1 count=2000000 2>/dev/null; times'], { encoding: 'utf8' });
  const t = out.trim().split('\n').at(-1)!.split(/\s+/).map((x) => { const m = /(\d+)m([\d.]+)s/.exec(x)!; return Number(m[1]) * 60 + Number(m[2]); });
  return ((t[0]! + t[1]!) / 4e6) * 1e9;
}
const modes: Record<string, object | null> = { 'not attached': null, 'as shipped': {}, 'connectExitTracepoint': { connectExitTracepoint: true } };
const res: Record<string, number[]> = {};
for (let r = 0; r < Number(process.argv[2] ?? 5); r++) for (const [n, o] of Object.entries(modes)) {
  const h = o ? openCapture({ captureDns: true, ...o, onBatch() {} }) : null;
  (res[n] ??= []).push(dd());
  await h?.stop();
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [n, v] of Object.entries(res)) console.log(n.padEnd(22), 'ns per syscall', med(v).toFixed(0), JSON.stringify(v.map((x) => Math.round(x))));
