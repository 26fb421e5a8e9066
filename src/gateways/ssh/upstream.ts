// The gateway's own login to the target as the session's account: ssh2's
// client with the account's key (derived from a secret only the broker
// holds), the target's host key pinned, the connector's algorithms. The
// key never leaves the broker.

import ssh2 from 'ssh2';
import { safeErrorText } from '../../core/scrub.js';
import { fingerprintOf, privateKeyFromSecret } from '../../connectors/ssh/keys.js';
import { targetConnectionAlgorithms } from '../../connectors/ssh/algorithms.js';
import type { Admission } from '../shared/admission.js';
import type { SshContext } from './context.js';

/** The target refused or failed the login; the message is for the client (no secret in it). */
export class TargetRefused extends Error {}

/**
 * Logs `client` in to the target as the admission's account. `closed` is
 * called when the target drops the connection afterwards (expiry or revoke:
 * the connector kills the account's processes). Throws TargetRefused, with
 * the client ended and the failure logged.
 */
export async function loginToTarget(ctx: SshContext, client: ssh2.Client, admission: Admission, closed: () => void): Promise<void> {
  const { log } = ctx.deps;
  const c = admission.credentials;
  const grant = admission.grant;
  const pinned = String(c.connection.hostKeySha256 ?? '');
  try {
    if (!c.password) throw new Error('the grant has no secret to log in with');
    const privateKey = privateKeyFromSecret(c.password);
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('the target closed the connection during login')));
      client.connect({
        host: String(c.connection.host),
        port: Number(c.connection.port),
        username: c.account,
        privateKey,
        readyTimeout: ctx.settings.upstreamTimeoutMs,
        keepaliveInterval: 15_000,
        algorithms: targetConnectionAlgorithms(),
        hostVerifier: (key: Buffer) => fingerprintOf(key) === pinned,
      });
    });
    // ssh2 leaves Nagle on: a relay's small packets would wait for ACKs.
    client.setNoDelay(true);
    client.removeAllListeners('error');
    client.on('error', (err: Error) => log.debug({ grantId: grant.id, error: safeErrorText(err, [c.password]) }, 'ssh gateway: target connection error'));
    // Listened for from here: the target may go while the session record is still being opened.
    client.once('close', closed);
  } catch (err) {
    client.end();
    const refusal = `the target refused the session: ${safeErrorText(err, [c.password])}`;
    // The key is written where only a host set up as documented reads it; say so to the operator (not the person).
    const hint =
      (err as { level?: string }).level === 'client-authentication'
        ? "the target's sshd did not accept the account's key: it must read the marker group's keys from the ssh target's authorizedKeysDir (src/connectors/ssh/README.md, \"The host's sshd\"; stint reconcile checks it)"
        : undefined;
    log.error({ user: grant.user, profile: admission.profile.name, grantId: grant.id, error: refusal, hint }, 'ssh gateway: login to the target failed');
    throw new TargetRefused(refusal);
  }
}
