// TLS the gateway offers its clients: forward-secret key exchange with AEAD
// ciphers only (ECDHE with AES-GCM or ChaCha20-Poly1305 on TLS 1.2; TLS 1.3's
// suites are all of that kind), the server's order of preference, and no
// renegotiation. RSA key exchange, CBC, SHA-1 MACs, ARIA/CCM and anything
// below TLS 1.2 are not offered (sslscan/testssl: LUCKY13, obsolete CBC).

import { constants } from 'node:crypto';
import tls from 'node:tls';

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** TLS 1.3 suites (named so that Node sets them, not OpenSSL's default list). */
export const TLS13_SUITES = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

/** TLS 1.2 suites: ECDHE key exchange, AEAD ciphers; ECDSA or RSA certificates. */
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
];

export function gatewaySecureContext(o: { cert: string | Buffer; key: string | Buffer; minVersion?: TlsMinVersion }): tls.SecureContext {
  return tls.createSecureContext({
    cert: o.cert,
    key: o.key,
    minVersion: o.minVersion ?? 'TLSv1.2',
    ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'),
    honorCipherOrder: true,
    // OpenSSL refuses renegotiation outright; the gateway also ends a connection that asks (gateway.ts).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE,
  });
}
