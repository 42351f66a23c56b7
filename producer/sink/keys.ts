// The message key of a record (kafka.keyStrategy), which decides its partition
// and so what stays in order. kafkajs-free: the config schema imports the list.
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';

export const KEY_STRATEGIES = ['host', 'process', 'destination', 'none'] as const;
export type KeyStrategy = (typeof KEY_STRATEGIES)[number];

/** Message key of a record: host = host name, process = host:pid, destination = ip:port ([ip]:port for IPv6), none = null. */
export function messageKey(strategy: KeyStrategy, r: NetTCPConnect): string | null {
  switch (strategy) {
    case 'process': return r.host.name + ':' + r.process.pid;
    case 'host': return r.host.name;
    case 'destination': return r.dstIP.includes(':') ? '[' + r.dstIP + ']:' + r.dstPort : r.dstIP + ':' + r.dstPort;
    case 'none': return null;
  }
}
