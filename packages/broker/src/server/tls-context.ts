import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import { ConfigError, errorMessage, type TlsConfig, tlsErrorReason } from '@barge/core';
import type { Logger } from 'pino';

/** The PEM contents of the `security.tls` files. Never logged. */
interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

type TlsFileField = 'cert' | 'key' | 'ca';

/**
 * The broker's TLS certificate (`security.tls`): reads and checks the PEM files, gives the
 * listeners their options, and swaps the certificate of every listener it serves on `reload()`
 * (SIGHUP) without touching open connections. Logs name the files, never their contents.
 */
export class TlsContext {
  #material: TlsMaterial;
  readonly #servers = new Set<Server>();

  /** Throws a `ConfigError` naming the field and the path of a missing, unreadable or unusable file. */
  constructor(
    readonly config: TlsConfig,
    private readonly log: Logger,
  ) {
    if (config.clientAuth !== 'none' && config.ca === undefined) {
      throw new ConfigError(
        `security.tls.ca is required with clientAuth: ${config.clientAuth} (the CA bundle client certificates must chain to)`,
        'security.tls.ca',
      );
    }
    this.#material = readTlsMaterial(config);
    this.log.info(
      { ...this.files, clientAuth: config.clientAuth, ...describeCertificate(this.#material.cert) },
      'TLS on: serving the certificate',
    );
  }

  /** The configured file paths, for logs. */
  get files(): { cert: string; key: string; ca?: string } {
    const { cert, key, ca } = this.config;
    return ca === undefined ? { cert, key } : { cert, key, ca };
  }

  /** Options of the client listener: the certificate, and the client certificate policy. */
  listenerOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    const { clientAuth } = this.config;
    return {
      ...this.#material,
      requestCert: clientAuth !== 'none',
      rejectUnauthorized: clientAuth === 'require',
    };
  }

  /** Options of the admin endpoint: the same certificate; no client certificate asked (health probes). */
  adminOptions(): SecureContextOptions {
    return { ...this.#material };
  }

  /** Makes `reload()` swap `server`'s certificate too. */
  serve(server: Server): void {
    this.#servers.add(server);
    server.once('close', () => this.#servers.delete(server));
  }

  /**
   * Re-reads the files and gives the listeners the new certificate: new connections get it, open
   * ones keep theirs. A file that cannot be read or used is logged as an error and the current
   * certificate stays. True when the new certificate is in use.
   */
  reload(): boolean {
    let material: TlsMaterial;
    try {
      material = readTlsMaterial(this.config);
    } catch (e) {
      this.log.error(
        { ...this.files, err: errorMessage(e) },
        'TLS reload failed; keeping the current certificate',
      );
      return false;
    }
    for (const server of this.#servers) server.setSecureContext(material);
    this.#material = material;
    this.log.info({ ...this.files, ...describeCertificate(material.cert) }, 'TLS certificate reloaded');
    return true;
  }

  /**
   * Why a client that completed the handshake is turned away, or undefined. With `clientAuth:
   * request` a client may send no certificate, but one it sends must chain to the CA (with
   * `require` the handshake itself fails).
   */
  refusal(socket: TLSSocket): string | undefined {
    if (this.config.clientAuth !== 'request' || socket.authorized) return undefined;
    if (Object.keys(socket.getPeerCertificate()).length === 0) return undefined;
    return `client certificate not trusted: ${String(socket.authorizationError)}`;
  }
}

/** Reads and checks the files of `config`; a `ConfigError` names the field and path of a bad one. */
function readTlsMaterial(config: TlsConfig): TlsMaterial {
  const cert = readPem(config, 'cert');
  const key = readPem(config, 'key');
  const ca = config.ca === undefined ? undefined : readPem(config, 'ca');
  check(config, 'cert', () => new X509Certificate(cert));
  check(config, 'key', () => createPrivateKey(key));
  if (ca) check(config, 'ca', () => new X509Certificate(ca));
  const material = ca ? { cert, key, ca } : { cert, key };
  try {
    createSecureContext(material);
  } catch (e) {
    throw new ConfigError(
      `security.tls: the key ${config.key} cannot be used with the certificate ${config.cert}: ${tlsErrorReason(e)}`,
      'security.tls.key',
    );
  }
  return material;
}

function readPem(config: TlsConfig, field: TlsFileField): Buffer {
  const file = config[field]!;
  try {
    return readFileSync(file);
  } catch (e) {
    const reason = errorMessage(e)
      .replace(/^E[A-Z]+: /, '')
      .replace(/, \w+ '.*'$/, '');
    throw new ConfigError(`security.tls.${field}: cannot read ${file}: ${reason}`, `security.tls.${field}`, {
      cause: e,
    });
  }
}

function check(config: TlsConfig, field: TlsFileField, parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    const what = field === 'key' ? 'a PEM private key (unencrypted)' : 'a PEM certificate';
    throw new ConfigError(
      `security.tls.${field}: ${config[field]} is not ${what}: ${tlsErrorReason(e)}`,
      `security.tls.${field}`,
    );
  }
}

/** What the logs say of a certificate: its subject, expiry and fingerprint (all public). */
function describeCertificate(pem: Buffer): { subject: string; validTo: string; fingerprint256: string } {
  const x = new X509Certificate(pem);
  return { subject: x.subject.replace(/\n/g, ', '), validTo: x.validTo, fingerprint256: x.fingerprint256 };
}
