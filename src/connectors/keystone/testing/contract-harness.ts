// The shared contract suite's harness for keystone: login is a password
// authentication, the allowed action reads the granted project with a token
// scoped to it, the forbidden one reads another project. A "session" is an
// unscoped token: Keystone revokes it when the user is deleted, and a revoked
// assignment stops it from being rescoped to the project.

import { createKeystoneConnector } from '../keystone-connector.js';
import type { ContractHarness, ContractLogin, ContractSession } from '../../testing/contract-suite.js';
import { defaultHostileNames } from '../../testing/contract-suite.js';
import type { KeystonePolicyMode } from '../../../testing/servers/keystone.js';
import { keystoneFixture, rand, usersNamed } from './keystone-fixture.js';

export async function keystoneHarness(mode: KeystonePolicyMode): Promise<ContractHarness> {
  const f = await keystoneFixture(mode);
  const connector = createKeystoneConnector(f.factoryInput());

  async function login(account: string, secret: string): Promise<ContractLogin> {
    const t = await f.passwordToken({ name: account }, secret);
    if (!t) throw new Error(`Keystone refused ${account}`);
    const use = async (projectId: string) => {
      const scoped = await f.passwordToken({ name: account }, secret, projectId);
      if (!scoped) throw new Error('no token for the project');
      const status = await f.readProject(scoped, projectId);
      if (status !== 200) throw new Error(`reading the project: ${status}`);
    };
    return { tryAllowed: () => use(f.app.id), tryForbidden: () => use(f.other.id), close: async () => {} };
  }

  async function session(account: string, secret: string): Promise<ContractSession> {
    const t = await f.passwordToken({ name: account }, secret);
    if (!t) throw new Error(`Keystone refused ${account}`);
    return {
      isAlive: () => f.tokenValid(t),
      async hasAccess() {
        const scoped = await f.rescope(t, f.app.id);
        return scoped !== null && (await f.readProject(scoped, f.app.id)) === 200;
      },
      close: async () => {},
    };
  }

  return {
    connector,
    grants: { allowed: [`member@${f.app.name}`], nonexistent: [`member@no-such-project-${rand()}`] },
    login,
    ownAccount: f.own.name,
    ownLogin: () => login(f.own.name, f.own.password),
    openSession: session,
    openOwnSession: () => session(f.own.name, f.own.password),
    async createUnmanaged(name) {
      if ((await usersNamed(f, name)).length === 0) await f.createUser(name, `U${rand(24)}`);
    },
    supportsNativeExpiry: false,
    terminatesSessions: false,
    hostileNames: () => {
      const sfx = rand(6);
      return [...defaultHostileNames(sfx), `a/b/../${sfx}`, '..', `%2F${sfx}%2e%2e`, `?x=1&name=admin#${sfx}`, `${'L'.repeat(240)}${sfx}`];
    },
    async teardown() {
      await connector.close();
      await f.teardown();
    },
  };
}
