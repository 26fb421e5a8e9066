// Client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it,
// for the gateway's upstream login as the session's ephemeral role. No channel
// binding: the gateway sends the gs2 header "n,," (client does not support
// it), which PostgreSQL accepts with or without TLS. The key derivation is the
// one the connector uses to compute verifiers (connectors/postgres/scram.ts).

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramKeys } from '../../connectors/postgres/scram.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
const GS2_HEADER = 'n,,';
/** Upper bound on the server's iteration count, so a hostile upstream cannot stall the broker. */
const MAX_ITERATIONS = 1_000_000;

export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new ScramError(`malformed SCRAM message attribute ${JSON.stringify(part.slice(0, 20))}`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * One exchange: `first()` gives the client-first-message; `final(serverFirst)`
 * the client-final-message; `verify(serverFinal)` checks the server's signature
 * (a server that cannot prove it knows the verifier is refused).
 */
export class ScramClient {
  private readonly nonce: string;
  private readonly firstBare: string;
  private expectedSignature: Buffer | null = null;

  /** `user` stays empty for PostgreSQL, which takes the user from the startup packet; set for RFC test vectors. */
  constructor(
    private readonly password: string,
    nonce = randomBytes(18).toString('base64'),
    user = '',
  ) {
    if (/[,=]/.test(nonce) || nonce.length === 0) throw new ScramError('invalid client nonce');
    if (/[,=]/.test(user)) throw new ScramError('user names with , or = need escaping, which this client does not do');
    this.nonce = nonce;
    this.firstBare = `n=${user},r=${nonce}`;
  }

  first(): string {
    return `${GS2_HEADER}${this.firstBare}`;
  }

  async final(serverFirst: string): Promise<string> {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !nonce.startsWith(this.nonce) || nonce.length === this.nonce.length) throw new ScramError('server nonce does not extend the client nonce');
    if (!salt) throw new ScramError('server sent no salt');
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS)
      throw new ScramError(`unacceptable iteration count ${attrs.get('i')}`);
    const keys = await scramKeys(this.password, Buffer.from(salt, 'base64'), iterations);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(keys.storedKey, authMessage);
    const proof = Buffer.alloc(clientSignature.length);
    for (let i = 0; i < proof.length; i++) proof[i] = keys.clientKey[i]! ^ clientSignature[i]!;
    this.expectedSignature = hmac(keys.serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verify(serverFinal: string): void {
    if (!this.expectedSignature) throw new ScramError('server-final before client-final');
    const attrs = attributes(serverFinal.trim());
    const err = attrs.get('e');
    if (err) throw new ScramError(`server rejected the SCRAM exchange: ${err}`);
    const v = Buffer.from(attrs.get('v') ?? '', 'base64');
    if (v.length !== this.expectedSignature.length || !timingSafeEqual(v, this.expectedSignature)) throw new ScramError('server signature does not match');
  }
}

/** PostgreSQL's legacy md5 password response, for targets still configured with md5. */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex');
  return `md5${createHash('md5')
    .update(Buffer.concat([Buffer.from(inner), salt]))
    .digest('hex')}`;
}
