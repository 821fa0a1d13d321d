import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The openssl CLI, or undefined when it is not installed (tests that need certificates then skip). */
export const openssl: string | undefined = spawnSync('openssl', ['version']).error ? undefined : 'openssl';

/** Certificates made for a test in a temp dir: ca.pem/key, server.pem/key for 127.0.0.1, and any clients asked for. */
export interface TestCertificates {
  readonly dir: string;
  /** Path of a file in the directory. */
  file(name: string): string;
  /** Contents of a file in the directory. */
  pem(name: string): Buffer;
  remove(): void;
}

/**
 * Makes a CA and a server certificate for IP 127.0.0.1 with the openssl CLI (P-256 keys, valid 2 days) —
 * the commands README.md shows — plus, by name, client certificates signed by the CA (`client`) or by a
 * CA of their own (`rogue`, signed by `rogue-ca`).
 */
export function makeCertificates(clients: Array<'client' | 'rogue'> = []): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'mqttlab-certs-'));
  const file = (name: string) => join(dir, name);
  const run = (args: string[]) => {
    const r = spawnSync(openssl!, args, { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const issue = (name: string, cn: string, ca: string | undefined, extensions: string) => {
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`];
    if (!ca) {
      run([
        'req',
        '-x509',
        ...key,
        '-out',
        `${name}.pem`,
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      return;
    }
    writeFileSync(file(`${name}.ext`), `${extensions}\n`);
    run(['req', ...key, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    run([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  issue('ca', 'mqttlab test CA', undefined, '');
  issue('server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  if (clients.includes('client')) issue('client', 'tls-client', 'ca', 'extendedKeyUsage=clientAuth');
  if (clients.includes('rogue')) {
    issue('rogue-ca', 'rogue CA', undefined, '');
    issue('rogue', 'rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth');
  }
  // Mosquitto started as root drops to the "mosquitto" user, which must be able to read the files.
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) chmodSync(file(name), 0o644);
  return { dir, file, pem: (name) => readFileSync(file(name)), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
