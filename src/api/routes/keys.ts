// Registered SSH public keys: what people log in to the SSH gateway with.
// Yours to add and remove; admins manage anyone's. Public keys are not
// secrets, but only their owner and admins see them.

import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { route } from '../route.js';
import { freeText, nameSchema, sshKeyIdParam } from '../schemas.js';
import { gatewaysView, keyChallengeView, sshKeyView, toSshKeyView } from '../views/index.js';

export function keyRoutes(deps: ApiDeps) {
  return [
    route({
      method: 'POST',
      url: '/v1/keys/challenge',
      tag: 'keys',
      auth: 'user',
      status: 201,
      summary: 'A challenge to sign with the key you register (ssh-keygen -Y sign -n <namespace>), valid 10 minutes',
      response: keyChallengeView,
      handler: async ({ actor }) => {
        const c = deps.keys.challenge({ actor });
        return {
          challenge: c.challenge,
          namespace: c.namespace,
          expiresAt: new Date(c.expiresAt).toISOString(),
          command: `printf '%s' '${c.challenge}' | ssh-keygen -Y sign -n ${c.namespace} -f ~/.ssh/id_ed25519`,
        };
      },
    }),
    route({
      method: 'POST',
      url: '/v1/keys',
      tag: 'keys',
      auth: 'user',
      status: 201,
      errors: ['not_found', 'conflict'],
      summary: "Register an SSH public key for logging in to the SSH gateway: yours with proof (a signed challenge); admins: another user's with user",
      body: z
        .object({
          publicKey: z.string().min(1).max(16_384).describe('one OpenSSH public key line: the contents of ~/.ssh/id_ed25519.pub'),
          user: nameSchema.optional(),
          comment: freeText(200).nullish(),
          challenge: z.string().max(300).optional().describe('from POST /v1/keys/challenge; required for your own key'),
          signature: z.string().max(16_384).optional().describe('ssh-keygen -Y sign output over the challenge; required for your own key'),
        })
        .strict(),
      response: z.object({ key: sshKeyView }),
      handler: async ({ actor, body }) => ({
        key: toSshKeyView(
          await deps.keys.add({
            actor,
            user: body.user,
            publicKey: body.publicKey,
            comment: body.comment ?? null,
            proof: body.challenge !== undefined && body.signature !== undefined ? { challenge: body.challenge, signature: body.signature } : undefined,
          }),
        ),
      }),
    }),
    route({
      method: 'GET',
      url: '/v1/keys',
      tag: 'keys',
      auth: 'user',
      errors: ['forbidden'],
      summary: "Your SSH keys (admins: everyone's, or one user's)",
      query: z.object({ user: nameSchema.optional() }).strict(),
      response: z.object({ keys: z.array(sshKeyView) }),
      handler: async ({ actor, query }) => ({ keys: (await deps.keys.list({ actor, user: query.user })).map(toSshKeyView) }),
    }),
    route({
      method: 'DELETE',
      url: '/v1/keys/:id',
      tag: 'keys',
      auth: 'user',
      summary: 'Remove an SSH key (yours, or any as admin)',
      params: sshKeyIdParam,
      response: z.object({ removed: sshKeyView }),
      handler: async ({ actor, params }) => ({ removed: toSshKeyView(await deps.keys.remove({ actor, keyId: params.id })) }),
    }),
    route({
      method: 'GET',
      url: '/v1/gateways',
      tag: 'sessions',
      auth: 'user',
      summary: "The session gateways this broker runs: where they listen, and the SSH gateway's host key for known_hosts",
      response: gatewaysView,
      handler: async () => deps.gateways?.() ?? { postgres: null, ssh: null },
    }),
  ];
}
