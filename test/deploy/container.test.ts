// deploy/container/Containerfile, checked without a container engine (none
// runs here, so the image is never built in this project's CI):
//  - every path it COPYs from the build context exists, stages are named,
//    the entrypoint is `conntrail run --config <the file the DaemonSet mounts>`
//    and the CLI takes that command; the default user is not root;
//  - the build stage installs what bpf/scripts/build.sh needs, the runtime
//    stage the Debian packages of every library the addon and Node 24 link;
//  - deploy/container/assemble.sh (what the build stage runs) lays out the
//    runtime tree from this checkout, and that tree's own Node 24 runs
//    `conntrail config` on the ConfigMap's config.
import test from 'ava';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { integrationRequired } from '../helpers/require.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONTAINERFILE = path.join(ROOT, 'deploy/container/Containerfile');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-image-'));

interface Instruction {
  line: number;
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** The Containerfile's instructions by stage (continuations joined, comments dropped). */
function parseContainerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) return;
    if (pending && line.trim().startsWith('#')) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s+(.*)$/s.exec(full);
    if (!m) throw new Error(`line ${start}: not an instruction: ${full}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`line ${start}: FROM ${args}`);
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`line ${start}: ${op} before FROM`);
      stages.at(-1)!.instructions.push({ line: start, op, args });
    }
  });
  return stages;
}

/** COPY's flags, sources and destination (shell or JSON form). */
function parseCopy(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const words = args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.trim().split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v = ''] = words.shift()!.slice(2).split('=');
    flags[k!] = v;
  }
  const dest = words.pop()!;
  return { flags, sources: words, dest };
}

/** The packages of the stage's `apt-get install` commands. */
function aptPackages(stage: Stage): Set<string> {
  const out = new Set<string>();
  for (const ins of stage.instructions) {
    if (ins.op !== 'RUN') continue;
    for (const m of ins.args.matchAll(/apt-get install ((?:[^&;|]|&(?!&))*)/g)) {
      for (const w of m[1]!.split(/\s+/)) if (w && !w.startsWith('-')) out.add(w);
    }
  }
  return out;
}

const stages = parseContainerfile(fs.readFileSync(CONTAINERFILE, 'utf8'));
const build = stages[0]!;
const runtime = stages.at(-1)!;
const manifest = parseAllDocuments(fs.readFileSync(path.join(ROOT, 'deploy/kubernetes/conntrail.yaml'), 'utf8')).map((d) => d.toJS());
const daemonSet = manifest.find((o) => o?.kind === 'DaemonSet');
const configText: string = manifest.find((o) => o?.kind === 'ConfigMap').data['conntrail.jsonc'];

test('two stages: the build on Debian 12, the runtime on Debian 12 slim', (t) => {
  t.is(stages.length, 2);
  t.is(build.from, 'docker.io/library/debian:12');
  t.is(build.name, 'build');
  t.is(runtime.from, 'docker.io/library/debian:12-slim');
});

test('every path the Containerfile COPYs from the build context exists in the repo', (t) => {
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  let fromContext = 0;
  for (const stage of stages) {
    for (const ins of stage.instructions.filter((i) => i.op === 'COPY' || i.op === 'ADD')) {
      t.is(ins.op, 'COPY', `line ${ins.line}: COPY, not ADD`);
      const { flags, sources, dest } = parseCopy(ins.args);
      t.true(sources.length > 0 && dest.length > 0, `line ${ins.line}`);
      if (flags.from !== undefined) {
        t.true(names.has(flags.from), `line ${ins.line}: --from=${flags.from} is a stage of this file`);
        continue;
      }
      for (const src of sources) {
        fromContext++;
        const p = path.join(ROOT, src);
        t.true(fs.existsSync(p), `line ${ins.line}: ${src} exists`);
        if (src.endsWith('/')) t.true(fs.statSync(p).isDirectory(), `line ${ins.line}: ${src} is a directory`);
        // git must know it: a file only in this working tree would be missing from a clone.
        const tracked = spawnSync('git', ['-C', ROOT, 'ls-files', '--error-unmatch', src], { stdio: 'ignore' }).status === 0;
        t.true(tracked, `line ${ins.line}: ${src} is tracked by git`);
      }
      if (sources.length > 1) t.true(dest.endsWith('/'), `line ${ins.line}: several sources go to a directory`);
    }
  }
  t.true(fromContext >= 10);
  // The addon's sources are all copied: everything binding.gyp compiles.
  const gyp = JSON.parse(fs.readFileSync(path.join(ROOT, 'bpf/binding.gyp'), 'utf8')) as { targets: Array<{ sources: string[] }> };
  const copied = build.instructions.filter((i) => i.op === 'COPY').flatMap((i) => parseCopy(i.args).sources);
  for (const src of gyp.targets.flatMap((x) => x.sources)) {
    t.true(copied.some((c) => c.endsWith('/') ? `bpf/${src}`.startsWith(c) : c === `bpf/${src}`), `bpf/${src} is copied`);
  }
});

test('the entrypoint is `conntrail run --config`, the CLI takes it, and the DaemonSet runs the same', (t) => {
  const entry = runtime.instructions.filter((i) => i.op === 'ENTRYPOINT');
  t.is(entry.length, 1);
  const argv = JSON.parse(entry[0]!.args) as string[];
  t.deepEqual(argv, ['conntrail', 'run', '--config', '/etc/conntrail/conntrail.jsonc']);
  t.deepEqual(['conntrail', ...daemonSet.spec.template.spec.containers[0].args], argv);
  // `conntrail` is the launcher assemble.sh writes, linked onto PATH.
  t.true(runtime.instructions.some((i) => i.op === 'RUN' && i.args.includes('ln -s /opt/conntrail/bin/conntrail /usr/local/bin/conntrail')));
  // `run` and --config are what the CLI takes: with no config file there it stops at
  // loading the config (one line, exit 2), not at the command line.
  const r = spawnSync(process.execPath, [path.join(ROOT, 'producer/cli.ts'), ...argv.slice(1, 3), path.join(tmp, 'absent.jsonc')], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /^conntrail: (bad config: )?config file .*absent\.jsonc: no such file\n$/);
  const help = spawnSync(process.execPath, [path.join(ROOT, 'producer/cli.ts'), '--help'], { encoding: 'utf8' });
  t.regex(help.stdout, /^ {2}run\s+capture connects/m);
});

test('the image runs as a non-root user by default', (t) => {
  const user = runtime.instructions.filter((i) => i.op === 'USER');
  t.is(user.length, 1);
  const [uid, gid] = user[0]!.args.split(':').map(Number);
  t.true(Number.isInteger(uid) && uid! > 0, 'numeric, so runAsNonRoot can check it');
  t.true(Number.isInteger(gid) && gid! > 0);
  t.true(runtime.instructions.some((i) => i.op === 'RUN' && i.args.includes(`useradd --system --uid ${uid} --gid ${gid}`)));
});

test('the build stage installs what bpf/scripts/build.sh needs, and runs npm ci and assemble.sh', (t) => {
  const installed = aptPackages(build);
  const script = fs.readFileSync(path.join(ROOT, 'bpf/scripts/build.sh'), 'utf8');
  const needed = [...script.matchAll(/^need (?:"[^"]+"|\S+) (\S+) /gm)].map((m) => m[1]!);
  t.true(needed.length >= 8);
  for (const pkg of needed) {
    if (pkg === 'build-essential') t.true(installed.has('g++') && installed.has('make'), 'a C toolchain (.ci/setup: g++ make)');
    else t.true(installed.has(pkg), `${pkg} (build.sh needs it)`);
  }
  t.true(installed.has('npm') && installed.has('nodejs'), 'Node and npm to run npm ci');
  t.true(installed.has('libnode-dev'), 'Node-API headers, so node-gyp downloads none');
  const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
  t.true(runs.some((r) => /^npm ci\b/.test(r)));
  t.true(runs.some((r) => r === 'bash deploy/container/assemble.sh /src /out/opt/conntrail'));
  t.true(runtime.instructions.some((i) => i.op === 'COPY' && i.args === '--from=build /out/opt/conntrail /opt/conntrail'));
});

test('the runtime stage installs the Debian package of every library the addon and Node 24 link', (t) => {
  const addon = path.join(ROOT, 'bpf/build/Release/bpf_native_loader.node');
  const node = path.join(ROOT, 'node_modules/node/bin/node');
  if (!fs.existsSync(addon) || !fs.existsSync(node)) {
    if (integrationRequired()) t.fail('the addon or Node 24 is not installed: npm ci');
    else t.pass('not built here');
    return;
  }
  const installed = aptPackages(runtime);
  const inBase = new Set(['libc6', 'libgcc-s1']); // in debian:12-slim
  const libs = new Set<string>();
  for (const bin of [addon, node]) {
    const ldd = spawnSync('ldd', [bin], { encoding: 'utf8' });
    t.is(ldd.status, 0, ldd.stderr);
    for (const m of ldd.stdout.matchAll(/=> (\/\S+)/g)) libs.add(m[1]!);
  }
  t.true(libs.size >= 4);
  for (const lib of libs) {
    const owner = spawnSync('dpkg', ['-S', fs.realpathSync(lib)], { encoding: 'utf8' });
    const alt = owner.status === 0 ? owner : spawnSync('dpkg', ['-S', lib], { encoding: 'utf8' });
    t.is(alt.status, 0, `dpkg -S ${lib}: ${alt.stderr}`);
    const pkg = alt.stdout.split(':')[0]!;
    t.true(installed.has(pkg) || inBase.has(pkg), `${lib} is in ${pkg}, which the runtime stage installs`);
  }
  t.true(installed.has('ca-certificates'), 'the system CAs, for TLS to the brokers without kafka.ssl.caFile');
});

function digest(file: string): string {
  return fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : 'absent';
}

test.serial("assemble.sh lays out the runtime tree, and that tree's Node 24 runs conntrail on the ConfigMap's config", (t) => {
  if (!fs.existsSync(path.join(ROOT, 'bpf/build/Release/bpf_native_loader.node')) || !fs.existsSync(path.join(ROOT, 'node_modules/node/bin/node'))) {
    if (integrationRequired()) t.fail('the addon or Node 24 is not installed: npm ci');
    else t.pass('not built here');
    return;
  }
  // It must leave the checkout as it was (it prunes in its own tree).
  const watched = ['package.json', 'package-lock.json', 'node_modules/.package-lock.json'].map((f) => path.join(ROOT, f));
  const before = watched.map(digest);
  const out = path.join(tmp, 'opt-conntrail');
  const r = spawnSync('bash', [path.join(ROOT, 'deploy/container/assemble.sh'), ROOT, out, '--link'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(watched.map(digest), before, 'the checkout is unchanged');
  for (const f of watched.filter((w) => fs.existsSync(w))) {
    const twin = path.join(out, path.relative(ROOT, f));
    if (fs.existsSync(twin)) t.not(fs.statSync(twin).ino, fs.statSync(f).ino, `${path.relative(ROOT, f)} is a copy, not a link`);
  }

  const node = spawnSync(path.join(out, 'bin/node'), ['--version'], { encoding: 'utf8' });
  t.regex(node.stdout, /^v24\./);
  t.true(fs.lstatSync(path.join(out, 'node_modules/bpf-native-loader')).isSymbolicLink());
  t.true(fs.existsSync(path.join(out, 'bpf/build/Release/bpf_native_loader.node')));
  t.true(fs.existsSync(path.join(out, 'schemas/NetTCPConnect.avsc')));
  for (const dev of ['ava', 'typescript', 'eslint', 'node', 'node-gyp']) t.false(fs.existsSync(path.join(out, 'node_modules', dev)), `devDependency ${dev} pruned`);
  for (const dep of ['kafkajs', 'pino', 'avsc', 'convict']) t.true(fs.existsSync(path.join(out, 'node_modules', dep)), `dependency ${dep} kept`);

  const config = path.join(tmp, 'conntrail.jsonc');
  fs.writeFileSync(config, configText);
  const env = { ...process.env, PATH: '/usr/bin:/bin' }; // its own Node, not one on PATH
  const cfg = spawnSync(path.join(out, 'bin/conntrail'), ['config', '--config', config], { encoding: 'utf8', env, cwd: tmp });
  t.is(cfg.status, 0, cfg.stderr);
  t.is(JSON.parse(cfg.stdout).telemetry.prometheusHost, '0.0.0.0');
  // The addon loads from the tree (libbpf's version needs no privilege).
  const addon = spawnSync(path.join(out, 'bin/node'), ['--input-type=module', '-e', "import('bpf-native-loader').then((m) => console.log(m.libbpfVersion()))"], { encoding: 'utf8', env, cwd: path.join(out, 'producer') });
  t.is(addon.status, 0, addon.stderr);
  t.regex(addon.stdout, /^v?\d+\.\d+/);
});

test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));
