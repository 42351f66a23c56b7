// `conntrail doctor` on this kernel, against its row in kernels.ts: every rung
// that must work loaded, attached and captured with DNS beside it, every rung
// that must fail says why, the default pick is the kernel's rung. The report is
// made in this process (a CLI start costs tens of seconds under TCG, and ava
// gives up on a file that finishes no test in 120 s); the CLI's own
// wiring (--json, the exit code) is checked on the host, where it is quick.
import { spawnSync } from 'node:child_process';
import { formatDoctor, runDoctor } from '../../producer/doctor.ts';
import type { DoctorReport } from '../../producer/doctor.ts';
import { captureTest } from './support.ts';
import { kernelExpectation } from './kernels.ts';

await captureTest('doctor reports each rung and the DNS program as this kernel must', async (t) => {
  const k = kernelExpectation();
  if (typeof k === 'string') return t.fail(k);
  const report = await runDoctor();
  t.log(formatDoctor(report));
  t.is(report.defaultProbe, k.winner);
  t.true(report.ok);
  for (const c of report.rungs) {
    if (k.works.includes(c.probe)) {
      t.true(c.loaded && c.attached && c.captured, `${c.probe} captured: ${c.reason ?? ''}`);
      t.true(c.dns.captured, `DNS beside ${c.probe} captured: ${c.dns.reason ?? ''}`);
      t.is(c.dns.netnsScoped, k.dnsNetns, `DNS netns id beside ${c.probe}`);
    } else {
      t.true(k.refused.includes(c.probe), `${c.probe} has an expectation`);
      t.false(c.captured, `${c.probe} must fail here`);
      t.true((c.reason ?? '').length > 10, `${c.probe} says why`);
    }
  }
});

if (process.env.CONNTRAIL_VM === undefined) {
  await captureTest('conntrail doctor --json prints the report and exits 0 when a connect rung captures', (t) => {
    const k = kernelExpectation();
    if (typeof k === 'string') return t.fail(k);
    const r = spawnSync(process.execPath, ['producer/cli.ts', 'doctor', '--json'], { encoding: 'utf8', timeout: 90_000 });
    t.is(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    t.is(report.defaultProbe, k.winner);
    t.is(report.rungs.length, 5);
  });

  await captureTest('conntrail doctor as an unprivileged user with the capture capabilities: a report, not a crash (no port 53 for its test reply)', (t) => {
    const caps = '+bpf,+perfmon,+net_admin';
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, '--',
      process.execPath, 'producer/cli.ts', 'doctor', '--json'], { encoding: 'utf8', timeout: 90_000 });
    t.is(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    const winner = report.rungs.find((x) => x.probe === report.defaultProbe);
    t.truthy(winner, 'a rung captures as that user');
    t.regex(winner?.dns.reason ?? '', /needs root or CAP_NET_BIND_SERVICE/);
  });
}
