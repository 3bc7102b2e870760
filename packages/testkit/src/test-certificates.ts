import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its private key, as PEM files on disk and as PEM text. */
export interface TestCertificate {
  /** Path of the PEM certificate. */
  readonly certFile: string;
  /** Path of the PEM private key (unencrypted). */
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /** The SHA-256 fingerprint as node reports it (`AA:BB:…`), e.g. `TLSSocket.getPeerCertificate().fingerprint256`. */
  readonly fingerprint256: string;
}

/** A test certificate authority: the files of its own (self-signed) certificate and key. */
export type TestCertificateAuthority = TestCertificate;

export interface TestCertificates {
  readonly ca: TestCertificateAuthority;
  /** Server certificate for `localhost` and `127.0.0.1` (subject alternative names), signed by `ca`. */
  readonly server: TestCertificate;
  /** Client certificates by subject CN, signed by `ca`. */
  readonly clients: Readonly<Record<string, TestCertificate>>;
}

export interface TestCertificateOptions {
  /** Subject CNs of the client certificates to issue (e.g. `['alice']`). Default none. */
  readonly clients?: readonly string[];
  /** Subject CN of the CA, to tell two CAs apart in a test. Default `Barge Test CA`. */
  readonly caName?: string;
}

/**
 * Makes a fresh CA, a server certificate for `localhost`/`127.0.0.1` and one client certificate per
 * name in `options.clients`, with `openssl` (EC P-256 keys, valid 30 days), as PEM files in `dir`
 * (created when missing): `ca.crt`/`ca.key`, `server.crt`/`server.key`, `client-<name>.crt`/`.key`.
 */
export async function makeTestCertificates(
  dir: string,
  options: TestCertificateOptions = {},
): Promise<TestCertificates> {
  await mkdir(dir, { recursive: true });
  const ca = await makeCertificateAuthority(dir, options.caName ?? 'Barge Test CA');
  const server = await issueTestCertificate(ca, dir, { name: 'server', cn: 'localhost', use: 'server' });
  const clients: Record<string, TestCertificate> = {};
  for (const cn of options.clients ?? []) {
    clients[cn] = await issueTestCertificate(ca, dir, { name: `client-${fileSafe(cn)}`, cn, use: 'client' });
  }
  return { ca, server, clients };
}

export interface IssueOptions {
  /** File base name in the directory: `<name>.crt` and `<name>.key`. */
  readonly name: string;
  /** Subject CN. */
  readonly cn: string;
  /** `server`: SANs `localhost` and `127.0.0.1`, serverAuth; `client`: clientAuth. */
  readonly use: 'server' | 'client';
}

/**
 * Issues one more certificate signed by `ca` into `dir` (e.g. a second server certificate to swap
 * in on a reload while clients keep trusting the same CA).
 */
export async function issueTestCertificate(
  ca: TestCertificateAuthority,
  dir: string,
  options: IssueOptions,
): Promise<TestCertificate> {
  const certFile = path.join(dir, `${options.name}.crt`);
  const keyFile = path.join(dir, `${options.name}.key`);
  const csrFile = path.join(dir, `${options.name}.csr`);
  const extFile = path.join(dir, `${options.name}.ext`);
  await mkdir(dir, { recursive: true });
  const extensions =
    options.use === 'server'
      ? ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth']
      : ['extendedKeyUsage=clientAuth'];
  await writeFile(
    extFile,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n${extensions.join('\n')}\n`,
  );
  await openssl(['req', '-new', ...newKey(keyFile), '-subj', subject(options.cn), '-out', csrFile]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    serial(),
    '-days',
    '30',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  return load(certFile, keyFile);
}

async function makeCertificateAuthority(dir: string, cn: string): Promise<TestCertificateAuthority> {
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    ...newKey(keyFile),
    '-subj',
    subject(cn),
    '-days',
    '30',
    '-set_serial',
    serial(),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    certFile,
  ]);
  return load(certFile, keyFile);
}

function newKey(keyFile: string): string[] {
  return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile];
}

function subject(cn: string): string {
  return `/CN=${cn.replace(/[/\\]/g, '\\$&')}`;
}

function serial(): string {
  return `0x${randomBytes(8).toString('hex')}`;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function load(certFile: string, keyFile: string): Promise<TestCertificate> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certFile, keyFile, cert, key, fingerprint256: new X509Certificate(cert).fingerprint256 };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (error as Error).message}`);
  }
}
