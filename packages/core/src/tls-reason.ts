import { errorMessage } from './errors.js';

/**
 * A TLS or OpenSSL error's reason, without OpenSSL's error-queue prefix and source location
 * (`…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…` → `wrong
 * version number`); other messages as they are (`self-signed certificate in certificate chain`).
 */
export function tlsErrorReason(e: unknown): string {
  const m = /routines:[^:]*:([^:]+)/.exec(errorMessage(e));
  return m ? m[1]!.trim() : errorMessage(e);
}
