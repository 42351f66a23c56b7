// Kernel-side cost of each rung: with kernel.bpf_stats_enabled on, connect-flood
// (one C process, loopback, a closed port) runs flat out with nothing attached,
// then with each rung that attaches here (DNS program beside it: the refused
// connect's RST is an ingress packet it inspects; and the cookie maker, whose
// run per socket counts in the connect's cost): ns per connect = run_time_ns /
// run_cnt of the rung's programs (bpftool). The extras beside every rung (the
// outcome probes, which run on every TCP state change, and the exec probe) are
// attached as the agent has them, and their time is reported apart, per connect. Under TCG the times are emulated:
// compare rungs within one machine, never a VM with the host.
//   node bpf/tools/bench-rung-cost.ts [seconds=3] [rounds=3] [--json]
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AttachError, DEFAULT_LADDER, openCapture } from 'bpf-native-loader';
import type { ProbeName } from 'bpf-native-loader';

const FLOOD = fileURLToPath(new URL('../.output/connect-flood', import.meta.url));
const STATS = '/proc/sys/kernel/bpf_stats_enabled';
const args = process.argv.slice(2).filter((a) => a !== '--json');
const json = process.argv.includes('--json');
const seconds = Number(args[0] ?? 3);
const rounds = Number(args[1] ?? 3);

interface ProgStats { name: string; runTimeNs: number; runCnt: number }

function progStats(ids: number[]): ProgStats[] {
  return ids.map((id) => {
    const p = JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(id), '--json'], { encoding: 'utf8' })) as { name: string; run_time_ns?: number; run_cnt?: number };
    return { name: p.name, runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 };
  });
}

async function floodRate(): Promise<number> {
  const { stdout } = await promisify(execFile)(FLOOD, ['-d', String(seconds)]);
  return Number(/rate=(\d+)/.exec(stdout)?.[1] ?? 0);
}

/** The extras' programs (outcome, connect_exit, exec): beside every rung, not part of it. */
const EXTRA_PROGRAM = /^ct_(outcome_|process_exec)/;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export interface RungCost { probe: ProbeName; connectsPerSec: number; ratioToBare: number; connectNsPerRun: number; dnsNsPerRun: number | null; extrasNsPerConnect: number | null }
export interface RungCostResult { kernel: string; seconds: number; rounds: number; bareConnectsPerSec: number; rungs: RungCost[] }

const old = readFileSync(STATS, 'utf8').trim();
writeFileSync(STATS, '1');
try {
  execFileSync(FLOOD, ['-d', '0.5']); // warm up
  const bare: number[] = [];
  const rows: RungCost[] = [];
  const perRung = new Map<ProbeName, { rate: number[]; ns: number[]; dns: number[]; extras: number[] }>();
  for (let r = 0; r < rounds; r++) {
    bare.push(await floodRate());
    for (const probe of DEFAULT_LADDER) {
      let h;
      try {
        h = openCapture({ ladder: [probe], captureDns: true, onBatch() {} });
      } catch (err) {
        if (err instanceof AttachError) continue;
        throw err;
      }
      const ids = h.kernelIds().programs;
      const before = progStats(ids);
      const rate = await floodRate();
      const after = progStats(ids);
      await h.stop();
      const m = perRung.get(probe) ?? { rate: [], ns: [], dns: [], extras: [] };
      let cNs = 0, cCnt = 0, dNs = 0, dCnt = 0, xNs = 0;
      // per connect: the rung's programs and the cookie maker's (one run per socket) over the rung's runs
      after.forEach((a, i) => {
        const dt = a.runTimeNs - before[i]!.runTimeNs;
        const dc = a.runCnt - before[i]!.runCnt;
        if (a.name.startsWith('ct_dns')) { dNs += dt; dCnt += dc; } else if (EXTRA_PROGRAM.test(a.name)) xNs += dt; else { cNs += dt; if (a.name !== 'ct_sock_create') cCnt += dc; }
      });
      m.rate.push(rate);
      if (cCnt) m.ns.push(cNs / cCnt);
      if (dCnt) m.dns.push(dNs / dCnt);
      if (cCnt) m.extras.push(xNs / cCnt);
      perRung.set(probe, m);
    }
  }
  const bareRate = median(bare);
  for (const [probe, m] of perRung) {
    rows.push({
      probe, connectsPerSec: median(m.rate), ratioToBare: median(m.rate) / bareRate,
      connectNsPerRun: median(m.ns), dnsNsPerRun: m.dns.length ? median(m.dns) : null, extrasNsPerConnect: m.extras.length ? median(m.extras) : null,
    });
  }
  const result: RungCostResult = { kernel: release(), seconds, rounds, bareConnectsPerSec: bareRate, rungs: rows };
  if (json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`kernel ${result.kernel}: bare connect() ${bareRate}/s (median of ${rounds} x ${seconds} s)`);
    console.log('rung        connects/s  ratio  ns per run (connect prog)  ns per run (DNS prog, per RST)  ns per connect (extras)');
    for (const r of rows) {
      console.log(`${r.probe.padEnd(11)} ${String(r.connectsPerSec).padStart(10)}  ${r.ratioToBare.toFixed(3)}  ${r.connectNsPerRun.toFixed(0).padStart(25)}  ${r.dnsNsPerRun === null ? '-' : r.dnsNsPerRun.toFixed(0).padStart(30)}  ${r.extrasNsPerConnect === null ? '-' : r.extrasNsPerConnect.toFixed(0).padStart(23)}`);
    }
  }
} finally {
  writeFileSync(STATS, old);
}
