// A throwaway CA and a server certificate for 127.0.0.1, made with the openssl
// command (Debian's openssl; Node's crypto cannot issue X.509 certificates).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestPki {
  /** The CA certificate (PEM) clients trust. */
  caFile: string;
  /** Unencrypted PKCS#8 key + certificate chain in one PEM file: a Kafka PEM keystore. */
  serverKeystore: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeTestPki(dir: string): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=conntrail test CA']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext']);
  const keystore = path.join(dir, 'server-keystore.pem');
  fs.writeFileSync(keystore, fs.readFileSync(path.join(dir, 'server.key'), 'utf8') + fs.readFileSync(path.join(dir, 'server.crt'), 'utf8') + fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'));
  return { caFile: path.join(dir, 'ca.pem'), serverKeystore: keystore };
}
