// The keys an ephemeral account logs in with, and what its owner is handed.
//
// The account always accepts the key derived from the broker's secret: the SSH
// gateway logs in with it (keys.ts). Unless the account is the gateway's own
// (`gatewayOnly`), it also accepts the owner's registered public keys
// (`stint keys add`), so `ssh account@host` works directly with the key the
// person already holds. An owner with no registered key is handed the derived
// private key instead: made again from the sealed secret at each (audited)
// credentials view, never stored on its own.

import type { CreateAccountRequest, HandOverRequest, HandOverResponse } from '../contract.js';
import { authorizedKeyFor, privateKeyFromSecret, secretKind } from './keys.js';

/** More than any person registers (the broker allows 20); a cap keeps the key file and the script small. */
const MAX_PUBLIC_KEYS = 100;

/**
 * The lines of the account's key file (`type base64`, no comments or
 * options), or an Error saying which key is unusable (never the secret).
 */
export function authorizedKeysFor(req: Pick<CreateAccountRequest, 'secret' | 'publicKeys' | 'gatewayOnly'>): string | Error {
  const own = authorizedKeyFor(req.secret);
  if (own instanceof Error) return own;
  const given = req.gatewayOnly ? [] : (req.publicKeys ?? []);
  if (given.length > MAX_PUBLIC_KEYS) return new Error(`${given.length} public keys given for one account; at most ${MAX_PUBLIC_KEYS}`);
  const lines = [own];
  for (const [i, k] of given.entries()) {
    // Only a public key line: anything else would be read as a secret to derive a key from.
    if (typeof k !== 'string' || secretKind(k) !== 'public-key') {
      return new Error(`publicKeys[${i}] is not an OpenSSH public key line ("ssh-ed25519 AAAA…"); nothing was sent to the host`);
    }
    const line = authorizedKeyFor(k);
    if (line instanceof Error) return new Error(`publicKeys[${i}]: ${line.message.replace('the secret', 'the key')}; nothing was sent to the host`);
    if (!lines.includes(line)) lines.push(line);
  }
  return lines.join('\n');
}

/** How the owner logs in directly: with their own keys when the account has them, else with the derived private key. */
export function handOverFor(req: HandOverRequest, where: { host: string; port: number }): HandOverResponse {
  const dest = `${where.port === 22 ? '' : `-p ${where.port} `}${req.account}@${where.host}`;
  if (req.publicKeys.length > 0) return { password: null, privateKey: null, login: `ssh ${dest}` };
  return { password: null, privateKey: privateKeyFromSecret(req.secret, `stint-${req.account}`), login: `ssh -i KEYFILE ${dest}` };
}
