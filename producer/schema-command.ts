// `conntrail schema register|check|list`: the registry side of schema
// versions, for the people who manage subjects. Prints plain lines; returns
// the exit code (0 ok, 1 incompatible).
import type { ConntrailConfig } from './config/load.ts';
import { LOCAL_REGISTRY_URL } from './local-stack.ts';
import { AGENT_STATUS_SCHEMA, checkSchema, listSchemaVersions, registerSchema, type SchemaTarget } from './registry/schema.ts';

/** The records' schema under kafka.topic's subject, or with `status` the heartbeat's under agent.statusTopic's. */
function targetOf(cfg: ConntrailConfig, status: boolean): SchemaTarget {
  // With no brokers configured conntrail uses the local stack; the registry too.
  const url = cfg.registry.url || (cfg.kafka.brokers.length === 0 ? LOCAL_REGISTRY_URL : '');
  if (!url) throw Object.assign(new Error('registry.url is not set (needed when kafka.brokers is set)'), { userFacing: true });
  const registry = { ...cfg.registry, url };
  return status ? { registry, topic: cfg.agent.statusTopic, record: AGENT_STATUS_SCHEMA } : { registry, topic: cfg.kafka.topic };
}

export async function schemaCommand(action: 'register' | 'check' | 'list', cfg: ConntrailConfig,
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'), options: { status?: boolean } = {}): Promise<number> {
  const target = targetOf(cfg, options.status === true);
  switch (action) {
    case 'register': {
      const r = await registerSchema(target);
      out(`${r.created ? 'registered' : 'already registered'}: subject ${r.subject} version ${r.version ?? '?'} id ${r.id} (${r.url})`);
      return 0;
    }
    case 'check': {
      const r = await checkSchema(target);
      const where = `subject ${r.subject} (${r.url}), compatibility ${r.compatibility ?? 'registry default'}, versions [${r.versions.join(', ')}]`;
      if (r.registeredAs) {
        out(`ok: the bundled schema is version ${r.registeredAs.version} (id ${r.registeredAs.id}) of ${where}`);
        return 0;
      }
      if (r.compatible) {
        out(`ok: the bundled schema is compatible with ${where}; \`conntrail schema register${options.status ? ' --status' : ''}\` adds it`);
        return 0;
      }
      out(`incompatible: the bundled schema cannot be registered under ${where}:`);
      for (const reason of r.reasons) out(`  - ${reason}`);
      return 1;
    }
    case 'list': {
      const r = await listSchemaVersions(target);
      out(`subject ${r.subject} (${r.url}), compatibility ${r.compatibility ?? 'registry default'}`);
      if (r.versions.length === 0) out('  no versions registered');
      for (const v of r.versions) out(`  version ${v.version} id ${v.id}${v.bundled ? ' (the bundled schema)' : ''}: ${v.fields.join(', ')}`);
      return 0;
    }
  }
}
