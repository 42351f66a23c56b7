// Picks the encoder for encoding.format: Avro (resolves the schema id with the
// registry first) or ECS JSON.
import type { ConntrailConfig } from '../config/load.ts';
import { AGENT_STATUS_SCHEMA, resolveWriterSchema } from '../registry/schema.ts';
import type { ResolvedSchema, ResolveOptions, SchemaTarget } from '../registry/schema.ts';
import { AvroEncoder } from './avro.ts';
import type { AvroEncoderOptions } from './avro.ts';
import { EcsJsonEncoder } from './ecs.ts';
import { avroStatusEncoder, ecsStatusEncoder } from './agent-status.ts';
import type { StatusEncoder } from './agent-status.ts';
import type { RecordEncoder } from './types.ts';

export interface EncoderConfig {
  encoding: ConntrailConfig['encoding'];
  registry: ConntrailConfig['registry'];
  kafka: Pick<ConntrailConfig['kafka'], 'topic'>;
}

/** Resolves the writer schema with the registry (see resolveWriterSchema) and builds the Avro encoder for it. */
export async function createAvroEncoder(target: SchemaTarget, options: ResolveOptions & AvroEncoderOptions = {}): Promise<{ encoder: AvroEncoder; schema: ResolvedSchema }> {
  const schema = await resolveWriterSchema(target, options);
  return { encoder: new AvroEncoder(schema.id, schema.type, options), schema };
}

/** The encoder for cfg.encoding.format. Avro waits for the registry (RegistryUnavailableError, SchemaIncompatibleError...). */
export async function createEncoder(cfg: EncoderConfig, options: ResolveOptions = {}): Promise<RecordEncoder> {
  switch (cfg.encoding.format) {
    case 'ecs-json':
      return new EcsJsonEncoder();
    case 'avro':
      return (await createAvroEncoder({ registry: cfg.registry, topic: cfg.kafka.topic }, options)).encoder;
    default:
      throw new Error(`encoding.format: unknown ${JSON.stringify(cfg.encoding.format)}`);
  }
}

/**
 * The status records' encoder for encoding.format, on `statusTopic`: Avro
 * resolves the AgentStatus schema under the status topic's own subject (per
 * registry.mode; cached, and asked again after a failure).
 */
export async function createStatusEncoder(cfg: Pick<EncoderConfig, 'encoding' | 'registry'>, statusTopic: string, options: ResolveOptions = {}): Promise<StatusEncoder> {
  if (cfg.encoding.format === 'ecs-json') return ecsStatusEncoder;
  const schema = await resolveWriterSchema({ registry: cfg.registry, topic: statusTopic, record: AGENT_STATUS_SCHEMA }, options);
  return avroStatusEncoder(schema.id, schema.type);
}
