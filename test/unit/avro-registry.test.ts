// Registry logic that needs no real registry: subject names, writer checks,
// the startup wait (against a fake HTTP server and a closed port).
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../producer/config/load.ts';
import { avroType, loadBundledSchema } from '../../producer/model/avro-schema.ts';
import type { AvroRecordSchema } from '../../producer/model/avro-schema.ts';
import { subjectName, waitForRegistry, writerProblems, resolveWriterSchema, clearSchemaCache, registryUrl } from '../../producer/registry/schema.ts';
import { LOCAL_REGISTRY_URL } from '../../producer/local-stack.ts';
import { RegistryRest } from '../../producer/registry/rest.ts';
import { RegistryError, RegistryUnavailableError } from '../../producer/registry/errors.ts';

test('subject names per strategy', (t) => {
  t.is(subjectName('topic', 'conntrail.net-tcp-connect'), 'conntrail.net-tcp-connect-value');
  t.is(subjectName('record', 'conntrail.net-tcp-connect'), 'io.conntrail.NetTCPConnect');
  t.is(subjectName('topic-record', 'conntrail.net-tcp-connect'), 'conntrail.net-tcp-connect-io.conntrail.NetTCPConnect');
  t.throws(() => subjectName('nope' as never, 't'), { instanceOf: RegistryError });
  t.is(registryUrl({ url: '' }), LOCAL_REGISTRY_URL);
});

const withField = (field: object): AvscType => avroType({ ...loadBundledSchema().json, fields: [...loadBundledSchema().json.fields, field] } as AvroRecordSchema);
type AvscType = ReturnType<typeof avroType>;

test('writerProblems: a defaulted extra field is fine, a required one or a type change is not', (t) => {
  const bundled = loadBundledSchema().type;
  t.deepEqual(writerProblems(bundled, bundled), []);
  t.deepEqual(writerProblems(withField({ name: 'site', type: ['null', 'string'], default: null }), bundled), []);
  const required = writerProblems(withField({ name: 'tenant', type: 'string' }), bundled);
  t.true(required.some((p) => p.includes('tenant')));
  const json = structuredClone(loadBundledSchema().json);
  for (const f of json.fields) if (f.name === 'dstPort') f.type = 'string';
  t.true(writerProblems(avroType(json), bundled).length > 0);
});

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('registry unreachable: RegistryUnavailableError after registry.startupRetryMs', async (t) => {
  const port = await closedPort();
  const { config } = loadConfig({ env: {}, overrides: { registry: { url: `http://127.0.0.1:${port}/apis/ccompat/v7`, startupRetryMs: 700 } } });
  clearSchemaCache();
  const t0 = Date.now();
  const err = await t.throwsAsync(resolveWriterSchema({ registry: config.registry, topic: 't' }), { instanceOf: RegistryUnavailableError });
  const waited = Date.now() - t0;
  t.true(waited >= 650 && waited < 5000, `${waited} ms`);
  t.regex(err?.message ?? '', new RegExp(`unreachable at http://127.0.0.1:${port}/apis/ccompat/v7.*ECONNREFUSED`));
  t.is(err?.name, 'RegistryUnavailableError');
  t.true((err as unknown as { userFacing: boolean }).userFacing);
});

test('startupRetryMs 0 fails at once', async (t) => {
  const port = await closedPort();
  const t0 = Date.now();
  await t.throwsAsync(waitForRegistry(new RegistryRest({ url: `http://127.0.0.1:${port}` }), 0), { instanceOf: RegistryUnavailableError });
  t.true(Date.now() - t0 < 1000);
});

test('a registry that answers 503 for a while is waited for; a 401 is not retried', async (t) => {
  let calls = 0;
  const server = http.createServer((req, res) => {
    calls++;
    if (req.headers.authorization !== 'Basic ' + Buffer.from('u:p').toString('base64')) { res.writeHead(401); res.end('{"message":"unauthorized","error_code":40101}'); return; }
    if (calls <= 3) { res.writeHead(503); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/vnd.schemaregistry.v1+json' });
    res.end('[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await waitForRegistry(new RegistryRest({ url, username: 'u', password: 'p' }), 10_000);
    t.is(calls, 4);
    const err = await t.throwsAsync(waitForRegistry(new RegistryRest({ url, username: 'u', password: 'x' }), 10_000), { instanceOf: RegistryError });
    t.is(err?.status, 401);
    t.false(err instanceof RegistryUnavailableError);
  } finally {
    server.close();
  }
});
