#!/usr/bin/env node
// conntrail's command line. User errors (bad config, unreachable registry,
// missing privileges) print one line and exit non-zero; only bugs show a stack.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type LoadedConfig } from './config/load.ts';
import { configReferenceMarkdown } from './config/reference.ts';

const USAGE = `usage: conntrail <command> [--config <file>]

commands:
  run                       capture connects, enrich, publish to Kafka (default)
  doctor [--json]           try every capture rung and the DNS program here (no Kafka needed); exit 0 if one captures
  status [--json]           ask the running conntrail (telemetry.prometheusHost:prometheusPort) for /healthz and /readyz; exit 0 if ready
  detach                    remove the capture pinned by capture.persist (capture.pinPath); exit 0 also when nothing was pinned
  config                    print the effective configuration (secrets masked)
  config --reference        print the configuration reference (Markdown)
  schema register           register schemas/NetTCPConnect.avsc under the configured subject
  schema check              check the bundled schema against the registry's latest version
  schema list               list the subject's registered versions
  schema ... --status       the same for schemas/AgentStatus.avsc under agent.statusTopic's subject (the heartbeat)

Without kafka.brokers set, run starts the local stack (stack/stack.sh) if needed and uses it; schema uses its registry.
Every config key can be set as CONNTRAIL_<KEY>; see docs/configuration.md.`;

/** An error the user can fix: shown as one line, no stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

function fail(message: string, code = 2): never {
  process.stderr.write(`conntrail: ${message}\n`);
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        reference: { type: 'boolean' },
        json: { type: 'boolean' },
        status: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const [command = 'run', sub] = positionals;
  const configFile = values.config ?? process.env.CONNTRAIL_CONFIG;
  const load = (): LoadedConfig => loadConfig({ file: configFile });

  switch (command) {
    case 'config': {
      if (values.reference) {
        process.stdout.write(configReferenceMarkdown());
        return;
      }
      process.stdout.write(load().printable() + '\n');
      return;
    }
    case 'run': {
      const { config } = load();
      const { runPipeline } = await import('./run.ts');
      await runPipeline(config);
      return;
    }
    case 'doctor': {
      const { config } = load();
      const { runDoctor, formatDoctor } = await import('./doctor.ts');
      const report = await runDoctor(config.capture.cgroupPath ? { cgroupPath: config.capture.cgroupPath } : {});
      process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
      process.exitCode = report.ok ? 0 : 1;
      return;
    }
    case 'status': {
      const { config } = load();
      const { statusCommand } = await import('./status-command.ts');
      process.exitCode = await statusCommand(config, values.json === true);
      return;
    }
    case 'detach': {
      const { config } = load();
      const { detachCommand } = await import('./detach-command.ts');
      process.exitCode = detachCommand(config);
      return;
    }
    case 'schema': {
      if (sub !== 'register' && sub !== 'check' && sub !== 'list') fail(`schema: expected register, check or list, got ${JSON.stringify(sub ?? '')}`);
      const { config } = load();
      const { schemaCommand } = await import('./schema-command.ts');
      process.exitCode = await schemaCommand(sub, config, undefined, { status: values.status === true });
      return;
    }
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

// kafkajs 2.2.4 arms timers with negative delays, which Node 24 warns about on
// stderr; the delay is clamped to 1 ms, so the warning says nothing to a user.
// Any other warning is shown once: one emitted per timer or per request would
// otherwise fill stderr.
process.removeAllListeners('warning');
const warned = new Set<string>();
process.on('warning', (w) => {
  const line = `conntrail: ${w.name}: ${w.message}`;
  if (w.name === 'TimeoutNegativeWarning' || warned.has(line)) return;
  if (warned.size < 100) warned.add(line);
  process.stderr.write(`${line}\n`);
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) fail(`bad config: ${err.message}`);
  if (err instanceof Error && isUserFacing(err)) fail(err.message, 1);
  process.stderr.write(`conntrail: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});

/** Named errors from the pipeline's stages that describe a user-fixable problem. */
function isUserFacing(err: Error): boolean {
  return err instanceof UserError || (err as { userFacing?: boolean }).userFacing === true ||
    ['AttachError', 'BuildMissingError', 'RegistryUnavailableError', 'SchemaIncompatibleError', 'TopicMissingError', 'StackError', 'KafkaUnavailableError', 'KafkaAuthenticationError'].includes(err.name);
}
