// What the owner of a keystone grant is handed beside the password: the auth
// URL, the user's domain, the project the grant is on, and a clouds.yaml with
// two entries: `stint` (the application credential, preferred: restricted,
// project-scoped, expiring with the grant) and `stint-password` (password
// authentication scoped to the same project). The password itself stays out
// of this text (`{password}`): it travels once, in the credential's own field.

import { checkGrant, parseGrant } from './grants.js';
import { APP_CRED_NAME } from './app-credential.js';

export interface HandOverSettings {
  url: string;
  userDomain: string;
  projectDomain: string;
  applicationCredential: boolean;
}

const q = (s: string) => JSON.stringify(s);

/** The project of the grant's first role assignment: the one the application credential is scoped to. */
function projectOf(grants: readonly string[], defaultDomain: string): { lines: string[]; info: Record<string, string> } | null {
  const first = grants.find((g) => checkGrant(g) === null);
  if (!first) return null;
  const ref = parseGrant(first);
  if (ref.project.isId) return { lines: [`      project_id: ${q(ref.project.value)}`], info: { projectId: ref.project.value } };
  const domain = ref.domain?.value ?? defaultDomain;
  const domainLine = ref.domain?.isId ? `      project_domain_id: ${q(domain)}` : `      project_domain_name: ${q(domain)}`;
  return { lines: [`      project_name: ${q(ref.project.value)}`, domainLine], info: { project: ref.project.value, projectDomain: domain } };
}

export function handedOverConnection(s: HandOverSettings, forGrant?: { account: string; grants: readonly string[] }): Record<string, string | number> {
  const authUrl = s.url.replace(/\/+$/, '');
  const account = forGrant?.account ?? '{account}';
  const project = projectOf(forGrant?.grants ?? [], s.projectDomain);
  const entry = (name: string, authType: string, auth: string[]) => [
    `  ${name}:`,
    `    auth_type: ${authType}`,
    '    auth:',
    `      auth_url: ${q(authUrl)}`,
    `      username: ${q(account)}`,
    `      user_domain_name: ${q(s.userDomain)}`,
    ...auth,
    '    identity_api_version: 3',
  ];
  const lines = ['clouds:'];
  if (s.applicationCredential) {
    lines.push(
      ...entry('stint', 'v3applicationcredential', [
        `      application_credential_name: ${APP_CRED_NAME}`,
        '      application_credential_secret: "{password}"',
      ]),
    );
  }
  lines.push(...entry('stint-password', 'password', ['      password: "{password}"', ...(project?.lines ?? [])]));
  return {
    authUrl,
    identityApiVersion: 3,
    userDomain: s.userDomain,
    ...(project?.info ?? {}),
    ...(s.applicationCredential ? { applicationCredentialName: APP_CRED_NAME } : {}),
    cloudsYaml: `${lines.join('\n')}\n`,
  };
}
