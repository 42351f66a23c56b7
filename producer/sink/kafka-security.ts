// kafka.ssl.* and kafka.sasl.* mapped onto the options kafkajs passes to
// tls.connect and its SASL authenticators. kafkajs-free (types only): the
// config schema imports SASL_MECHANISMS from here.
import fs from 'node:fs';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { ConntrailConfig } from '../config/load.ts';
import { KafkaConfigError } from './errors.ts';

export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

type KafkaSection = ConntrailConfig['kafka'];

function readPem(what: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new KafkaConfigError(`kafka.ssl.${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** kafka.ssl.* -> the tls options kafkajs passes to tls.connect (false when TLS is off). */
export function sslOptions(ssl: KafkaSection['ssl']): KafkaConfig['ssl'] {
  if (!ssl.enabled) return false;
  return {
    rejectUnauthorized: ssl.rejectUnauthorized,
    ...(ssl.caFile ? { ca: [readPem('caFile', ssl.caFile)] } : {}),
    ...(ssl.certFile ? { cert: readPem('certFile', ssl.certFile) } : {}),
    ...(ssl.keyFile ? { key: readPem('keyFile', ssl.keyFile) } : {}),
  };
}

/** kafka.sasl.* -> kafkajs sasl (undefined when mechanism is none). */
export function saslOptions(sasl: KafkaSection['sasl']): SASLOptions | undefined {
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'none': return undefined;
    case 'plain': return { mechanism: 'plain', username, password };
    case 'scram-sha-256': return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512': return { mechanism: 'scram-sha-512', username, password };
    default: throw new KafkaConfigError(`kafka.sasl.mechanism: unknown ${JSON.stringify(sasl.mechanism)}`);
  }
}
