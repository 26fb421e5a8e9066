// What a target kind plugs into Stint: its config fields, the delivery modes
// it supports, how to check its native permission and account names, and its
// connector factory. registry.ts maps every TargetKind to one of these.

import type { z } from 'zod';
import type { DeliveryMode } from '../core/types.js';
import type { ConnectorFactory } from './contract.js';

export interface ConnectorModule {
  /** Equals its key in the registry (checked there). */
  kind: string;
  /** Kind-specific target fields in the config file, beside name, kind, admin and critical. */
  settings: z.ZodRawShape;
  /** Delivery modes this kind can honour; the config rejects profiles asking for another. */
  modes: readonly DeliveryMode[];
  /** Checks one profile grant (a target-native permission): null when valid, else why not. */
  checkGrant(grant: string): string | null;
  /** Checks a person's own account name on a target of this kind: null when valid, else why not. */
  checkAccount(account: string): string | null;
  /**
   * Optional: checks a whole profile against its target's settings (keystone:
   * the admin role needs allowAdminRole). Returns problems by grant index.
   */
  checkProfile?(profile: { grants: readonly string[]; allowAdminRole?: boolean }, settings: Record<string, unknown>): { index: number; message: string }[];
  create: ConnectorFactory;
}
