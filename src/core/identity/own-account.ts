// A person's own account on a target (for own-account profiles): their
// explicit users[].accounts entry, or else the target's `ownAccount` template
// with {username} replaced by their Stint name.

import type { TargetDef, UserDef } from '../types.js';

export const usernamePlaceholder = '{username}';

/** Why a template is unusable, or null: it must hold {username}, and no other {…}. */
export function ownAccountTemplateProblem(template: string): string | null {
  if (!template.includes(usernamePlaceholder))
    return `must contain ${usernamePlaceholder}, which becomes the person's Stint name (a fixed name would be one account shared by everyone)`;
  const other = template.split(usernamePlaceholder).join('').match(/[{}]/);
  if (other) return `may use only the placeholder ${usernamePlaceholder}; remove the other { or }`;
  return null;
}

/** The account, or undefined when the user has none there and the target derives none. */
export function ownAccountOf(user: Pick<UserDef, 'name' | 'accounts'>, target: Pick<TargetDef, 'name' | 'ownAccount'>): string | undefined {
  const explicit = user.accounts[target.name];
  if (explicit !== undefined) return explicit;
  return target.ownAccount ? target.ownAccount.split(usernamePlaceholder).join(user.name) : undefined;
}
