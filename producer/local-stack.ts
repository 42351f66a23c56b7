// With no brokers configured, `conntrail run` uses the local stack (stack/stack.sh):
// Kafka on 127.0.0.1:9092 and the registry's Confluent API on 127.0.0.1:8081.
// The one definition of those endpoints on the TypeScript side: the sink, the
// registry client, the benchmarks and the tests take them from here.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConntrailConfig } from './config/load.ts';
import type { Logger } from './log.ts';

export const LOCAL_BROKERS: readonly string[] = ['127.0.0.1:9092'];
export const LOCAL_REGISTRY_URL = 'http://127.0.0.1:8081/apis/ccompat/v7';

/** The local stack did not come up; its message says where its logs are. */
export class StackError extends Error {
  override name = 'StackError';
}

export interface Endpoints {
  brokers: string[];
  registryUrl: string;
  /** True when these are the local stack's (started or found running). */
  local: boolean;
}

const STACK_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'stack', 'stack.sh');

/** Brokers and registry to use; starts the local stack when no brokers are configured. */
export function resolveEndpoints(cfg: ConntrailConfig, log: Logger): Endpoints {
  if (cfg.kafka.brokers.length > 0) {
    return { brokers: cfg.kafka.brokers, registryUrl: cfg.registry.url, local: false };
  }
  log.info({ script: STACK_SCRIPT }, 'no kafka.brokers configured: using the local stack (starting it if needed)');
  const up = spawnSync('bash', [STACK_SCRIPT, 'up'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (up.status !== 0) {
    const why = (up.stderr || up.stdout || '').trim().split('\n').slice(-3).join(' / ');
    throw new StackError(`the local stack did not start (bash stack/stack.sh up exited ${up.status}): ${why}`);
  }
  return { brokers: [...LOCAL_BROKERS], registryUrl: cfg.registry.url || LOCAL_REGISTRY_URL, local: true };
}
