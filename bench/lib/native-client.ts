// The native-client baseline (issue 15): the records the ceiling publishes
// (bench/workers/native-records.ts: the same keys and Confluent-framed Avro
// values, encoded by conntrail's own pipeline) produced to the same broker by
// librdkafka, through Debian's kcat (`apt-get install kcat`, .ci/setup).
//
// Why kcat and not a C producer of our own: kcat sends these binary records
// byte for byte. It splits its input on delimiter strings (-D records, -K the
// key from the value; \xNN escapes, no NUL) with a forward scan, so a record
// may hold any byte except the delimiter itself: native-records.ts picks two
// 8-byte delimiters without self-overlap and checks every record against
// them (the key delimiter first occurs right after the key, the record
// delimiter never inside a record). Checked once by hand: 20,000 records
// produced by kcat and consumed back with kafkajs had the file's keys and
// values, in order. What it cannot do: per-record timestamps (librdkafka
// stamps the produce time; same size on the wire) and headers (the ceiling
// sends none). Its input handling (fread, a scan, a copy per record under
// 1 KiB) is counted in its CPU, as ProducerPerformance's record generation
// and JVM are in its.
//
// librdkafka's defaults otherwise (batch.num.messages 10000, batch.size 1 MB,
// linger.ms 5, no compression), plus acks=all and, as conntrail and
// ProducerPerformance have it, the idempotent producer; the murmur2
// partitioner, kafkajs's and Java's, so the keys land on the same partitions
// as conntrail's. Timed from the start of kcat to its exit (it exits once
// every record is acknowledged: process start and metadata included, a few
// tens of ms); CPU and peak RSS from /usr/bin/time; the records that reached
// the topic are counted from its offsets before and after.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { machineCpu, procCpuRss } from './proc.ts';
import type { NativeRecordsResult } from '../workers/native-records.ts';

export const KCAT = '/usr/bin/kcat';

export interface NativeResult {
  client: string;
  records: number;
  elapsedS: number;
  recordsPerS: number;
  /** MiB/s of keys and values. */
  mbPerS: number;
  cpuS: number;
  cpuSPer100k: number;
  maxRssMiB: number;
  /** Records that reached the topic (offsets after - before): equals `records` or the run fails. */
  delivered: number;
  brokerCores: number;
  /** Busy CPU of the machine not accounted for by kcat and the broker, cores. */
  otherCores: number;
}

/** Why the native client cannot run here, or null. */
export function nativeClientMissing(): string | null {
  if (!existsSync(KCAT)) return `${KCAT} is missing (Debian's kcat: sudo bash .ci/setup, or apt-get install kcat)`;
  if (!existsSync('/usr/bin/time')) return '/usr/bin/time is missing (Debian\'s time)';
  return null;
}

/** "kcat 1.7.1, librdkafka 2.0.2". */
export function nativeClientVersion(): string {
  const out = spawnSync(KCAT, ['-V'], { encoding: 'utf8' }).stdout ?? '';
  const k = /Version (\S+)/.exec(out)?.[1] ?? '?';
  const r = /librdkafka (\S+)/.exec(out)?.[1] ?? '?';
  return `kcat ${k}, librdkafka ${r}`;
}

async function topicEnd(brokers: string[], topic: string): Promise<number> {
  const { Kafka, logLevel } = (await import('kafkajs')).default;
  const admin = new Kafka({ clientId: 'conntrail-bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** One kcat run over the file of `input` to `topic` (which exists). */
export async function runNativeClient(input: NativeRecordsResult, topic: string, brokers: string[], brokerPid: number | undefined): Promise<NativeResult> {
  const before = await topicEnd(brokers, topic);
  const argv = ['-f', 'BENCH_TIME %U %S %M', KCAT, '-P', '-q', '-b', brokers.join(','), '-t', topic, '-K', input.keyDelim, '-D', input.delim,
    '-X', 'acks=all', '-X', 'enable.idempotence=true', '-X', 'partitioner=murmur2_random'];
  const fd = openSync(input.file, 'r');
  const m0 = machineCpu();
  const b0 = brokerPid ? procCpuRss(brokerPid)?.cpu ?? 0 : 0;
  const t0 = performance.now();
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/time', argv, { stdio: [fd, 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(err);
      else reject(new Error(`kcat exited ${code}: ${err.trim().split('\n').slice(-5).join('\n')}`));
    });
  }).finally(() => closeSync(fd));
  const elapsedS = (performance.now() - t0) / 1000;
  const busy = machineCpu().busy - m0.busy;
  const brokerS = brokerPid ? (procCpuRss(brokerPid)?.cpu ?? 0) - b0 : 0;
  const t = /BENCH_TIME ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
  if (!t) throw new Error(`kcat: no /usr/bin/time line in ${JSON.stringify(stderr.slice(-300))}`);
  const cpuS = Number(t[1]) + Number(t[2]);
  const delivered = (await topicEnd(brokers, topic)) - before;
  if (delivered !== input.records) throw new Error(`kcat: ${delivered} records reached ${topic}, ${input.records} were sent`);
  return {
    client: nativeClientVersion(), records: input.records, elapsedS,
    recordsPerS: input.records / elapsedS, mbPerS: input.bytes / 1048576 / elapsedS,
    cpuS, cpuSPer100k: (cpuS / input.records) * 1e5, maxRssMiB: Number(t[3]) / 1024, delivered,
    brokerCores: brokerS / elapsedS, otherCores: Math.max(0, (busy - brokerS - cpuS) / elapsedS),
  };
}
