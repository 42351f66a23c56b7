// Example records: used to check at startup that a registered writer schema can
// encode what conntrail produces, and by tests and benchmarks.
import type { AgentStatus } from './agent-status.ts';
import type { NetTCPConnect } from './net-tcp-connect.ts';

/** A fully populated record (every nullable field set). */
export function sampleRecord(overrides: Partial<NetTCPConnect> = {}): NetTCPConnect {
  return {
    eventId: '6f1c2a4e-8b1d-4f7a-9c3e-2d5b7a9e1f00',
    eventName: 'NetTCPConnect',
    timestamp: 1_735_787_045_123_456,
    host: { name: 'web-1', machineId: '0123456789abcdef0123456789abcdef', bootId: 'f0e1d2c3-b4a5-4697-8877-665544332211' },
    process: {
      pid: 4242,
      tid: 4243,
      ppid: 1,
      uid: 1000,
      gid: 1000,
      comm: 'curl',
      exe: '/usr/bin/curl',
      cgroupId: 12345,
      containerId: null,
      args: ['curl', '-s', 'https://example.com/'],
      argsCount: 3,
      argsTruncated: false,
      commandLine: 'curl -s https://example.com/',
      startTime: 1_735_787_045_001_000,
      entityId: 'yYl1HdqWw6XzSgJ7iN1Vdg',
      parentComm: 'bash',
      parentExe: '/usr/bin/bash',
      ancestors: ['/usr/sbin/sshd', '/usr/lib/systemd/systemd'],
      userName: 'alice',
      groupName: 'alice',
    },
    netnsCookie: 4096,
    dstIP: '93.184.215.14',
    dstPort: 443,
    family: 'AF_INET',
    results: ['example.com'],
    probe: 'cgroup',
    srcIP: '192.0.2.10',
    srcPort: 51234,
    outcome: 'refused',
    errno: 'ECONNREFUSED',
    outcomeDelayUs: 812,
    communityId: '1:wPAwfPOI7Q1kP1wvq4R6KwgVcqo=',
    ...overrides,
  };
}

/** A record with every nullable field null and no DNS names. */
export function sparseRecord(): NetTCPConnect {
  const r = sampleRecord({ results: [], dstIP: '2001:db8::1', family: 'AF_INET6', srcIP: null, srcPort: null, outcome: null, errno: null, outcomeDelayUs: null, communityId: null });
  return {
    ...r,
    host: { ...r.host, machineId: '' },
    process: {
      ...r.process, ppid: null, exe: null, containerId: null, args: null, argsCount: null, argsTruncated: null, commandLine: null,
      startTime: null, entityId: null, parentComm: null, parentExe: null, ancestors: null, userName: null, groupName: null,
    },
  };
}

/** A status record with every nullable field set (sampleStatus(true): every one null). */
export function sampleStatus(sparse = false): AgentStatus {
  const t = 1_735_787_045_123_456;
  return {
    eventId: '0b7e7c1a-3d2f-4c5e-9a8b-1c2d3e4f5a6b',
    eventName: 'AgentStatus',
    timestamp: t,
    intervalStart: t - 30_000_000,
    host: { name: 'web-1', machineId: sparse ? '' : '0123456789abcdef0123456789abcdef', bootId: 'f0e1d2c3-b4a5-4697-8877-665544332211' },
    agent: { version: '0.1.0', startedAt: t - 3_600_000_000, sequence: 120, probe: 'lsm', dnsCapture: 'per netns' },
    captured: 61_234,
    published: 61_200,
    drops: { kernel: 12, decode: 0, queue: 22, spool: 0, publish: 0, shutdown: 0, total: 34 },
    lossStart: sparse ? null : t - 12_000_000,
    lossEnd: sparse ? null : t - 9_000_000,
    queueRecords: 34,
    spoolRecords: sparse ? null : 0,
    spoolBytes: sparse ? null : 0,
    lastPublishAt: sparse ? null : t - 4_000,
    lastError: sparse ? null : 'Connection error: connect ECONNREFUSED 10.0.0.7:9092',
  };
}
