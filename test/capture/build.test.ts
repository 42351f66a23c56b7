// The build script names what is missing in one line, with the Debian package.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD = fileURLToPath(new URL('../../bpf/scripts/build.sh', import.meta.url));

function build(env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync('/bin/bash', [BUILD], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

test('a missing compiler gives one clear line and a non-zero exit', (t) => {
  const r = build({ CLANG: '/nonexistent/clang' });
  t.is(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^bpf-native-loader: cannot build, missing clang: install with 'apt-get install clang'/);
});

test('a missing bpftool and kernel BTF are named too', (t) => {
  const tool = build({ BPFTOOL: '/nonexistent/bpftool' });
  t.is(tool.status, 1);
  t.regex(tool.stderr, /missing bpftool: install with 'apt-get install bpftool'/);
  const btf = build({ CONNTRAIL_VMLINUX_BTF: '/nonexistent/vmlinux' });
  t.is(btf.status, 1);
  t.regex(btf.stderr, /kernel BTF \/nonexistent\/vmlinux is not readable/);
});

test('CONNTRAIL_SKIP_BPF_BUILD=1 skips the build and says so', (t) => {
  const r = spawnSync('/bin/bash', [BUILD], { env: { ...process.env, CONNTRAIL_SKIP_BPF_BUILD: '1' }, encoding: 'utf8' });
  t.is(r.status, 0);
  t.regex(r.stdout, /not building/);
});
