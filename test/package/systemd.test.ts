// The .deb in a real systemd: `npm run package` builds it, a Debian 13 kernel
// boots under qemu with systemd as PID 1 over this host's userspace
// (tools/vm/run.sh --init systemd --net), and test/package/guest-systemd.sh
// installs it, starts the hardened unit against this host's local Kafka and
// registry, checks the service, stops, upgrades and purges it. Here: what it
// saw, and the records it published, read back from the topic.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { parseStatus, capabilityNames } from '../../producer/privileges.ts';
import { brokerList, integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('close', (code) => resolve({ code, out }));
  });
}

async function recordsTo(topic: string, port: number, want: number, timeoutMs = 60_000): Promise<NetTCPConnect[]> {
  const kafka = new Kafka({ clientId: 'conntrail-package-test', brokers: brokerList(KAFKA_BROKERS), logLevel: logLevel.NOTHING });
  const registry = new SchemaRegistry({ host: REGISTRY_URL });
  const consumer = kafka.consumer({ groupId: `package-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: NetTCPConnect[] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        const r = await registry.decode(message.value as Buffer) as NetTCPConnect;
        if (r.dstPort === port) seen.push(r);
        if (seen.length >= want) { clearTimeout(timer); resolve(); }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

const KEPT = ['net_admin', 'sys_ptrace', 'perfmon', 'bpf'];

await integrationTest('package: the .deb installs, runs as a hardened systemd service, publishes, stops cleanly, upgrades keeping the config, purges', ['root', 'kafka', 'registry', 'vm'], async (t) => {
  t.timeout(20 * 60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-package-'));
  const results = path.join(dir, 'results');
  fs.mkdirSync(results);
  const built = await run('bash', ['tools/package/build-deb.sh', '--out', dir], 10 * 60_000);
  t.is(built.code, 0, `npm run package: ${built.out}`);
  const deb = built.out.trim().split('\n').pop() ?? '';
  t.regex(path.basename(deb), /^conntrail_\d+\.\d+\.\d+_amd64\.deb$/);

  const topic = `package-${randomUUID().slice(0, 8)}`;
  const marker = 40000 + Math.floor(Math.random() * 20000);
  const vm = await run('bash', ['tools/vm/run.sh', '--kernel', '6.12', '--init', 'systemd', '--net', '--share', results, '--timeout', '900', '--',
    'bash', 'test/package/guest-systemd.sh', deb, topic, String(marker), results], 16 * 60_000);
  const read = (name: string): string => { try { return fs.readFileSync(path.join(results, name), 'utf8').trim(); } catch { return `(no ${name})`; } };
  const journal = read('journal.txt');
  t.is(vm.code, 0, `the VM run: ${vm.out}`);
  t.is(read('install-rc'), '0', read('install.log'));
  t.regex(read('user'), /^uid=\d+\(conntrail\) gid=\d+\(conntrail\)/);
  t.is(read('unit-enabled'), 'disabled', 'a fresh install does not enable the service before its brokers are set');
  t.is(read('config-check'), '0');
  t.is(read('ready'), '1', `conntrail status said ready\n${journal}`);
  const status = JSON.parse(read('status.json')) as { ready?: { ready?: boolean } };
  t.truthy(status, 'status --json parses');

  const main = parseStatus(Number(read('main-pid')), read('proc-status'));
  const conntrailUid = Number(/^uid=(\d+)/.exec(read('user'))?.[1]);
  t.is(main.uid, conntrailUid, 'runs as the conntrail user');
  t.deepEqual(capabilityNames(main.capEff).sort(), [...KEPT].sort(), 'effective: exactly the four capabilities of the unit');
  t.deepEqual(capabilityNames(main.capBnd).sort(), [...KEPT].sort(), 'bounding set trimmed to them');
  t.true(main.noNewPrivs, 'NoNewPrivileges');
  t.regex(read('proc-status'), /^Seccomp:\s+2$/m, 'a syscall filter is in force');
  for (const block of read('task-status').split(/\n\n+/).filter((b) => b.includes('Uid:'))) {
    const th = parseStatus(0, block);
    t.is(th.uid, conntrailUid, `thread ${th.name}: not root`);
  }

  t.regex(journal.split('\n')[0] ?? '', /connect probe lsm attached/, 'the first line in the journal says which probe attached');
  t.true(journal.includes('publishing to Kafka'), 'logs reach the journal');
  // as the conntrail user (no tracefs): connect() failures with no handshake come from the trampoline
  t.regex(journal, /connect\(\) failures with no handshake captured \(fexit __sys_connect\)/, 'connect_exit attaches under the service');
  t.is(read('stop-result'), 'success 0', `systemctl stop: flushed and exited 0\n${journal}`);
  t.is(read('pinned-after-stop'), '1', `a stop leaves the capture pinned (capture.persist)\n${journal}`);
  t.is(read('ready-again'), '1', `the restart is ready\n${journal}`);
  t.regex(journal, /adopted the lsm capture pinned at \/run\/conntrail\/bpf\/capture/, 'the restart adopts the pinned capture');
  t.regex(read('security.txt'), /Overall exposure level for conntrail\.service: \d+\.\d+ \w+/);
  t.log(/Overall exposure level.*/.exec(read('security.txt'))?.[0] ?? '');

  t.is(read('upgrade-rc'), '0', read('upgrade.log'));
  t.is(read('config-kept'), '1', 'the edited conffile survives the upgrade');
  t.is(read('purge-rc'), '0', read('purge.log'));
  t.is(read('after-purge'), '0\nuser-gone', 'purge removes the config, the app, the unit, the state and the user');
  t.is(read('after-purge-pins'), 'unmounted 0', 'removal detaches the pinned capture and unmounts its bpffs');

  const records = await recordsTo(topic, marker, 3);
  t.is(records.length, 3, 'the connects made in the VM while the service ran were published');
  for (const r of records) {
    t.is(r.process.uid, 0);
    t.is(r.process.exe, '/usr/bin/bash', "a root process's exe, read by the unprivileged service (sys_ptrace)");
    t.is(r.probe, 'lsm');
  }
  const whileStopped = await recordsTo(topic, marker + 1, 3);
  t.is(whileStopped.length, 3, 'the connects made while the service was stopped were published after its restart');
});
