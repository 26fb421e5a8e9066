// What a target kind plugs into Stint: its settings schema (one per kind, in
// <kind>/settings.ts), the delivery modes it supports, how to check its
// native permission and account names, and how to open its connector.
// registry.ts maps every TargetKind to one of these; kit/create.ts turns one
// into a Connector.

import type { z } from 'zod';
import type { DeliveryMode } from '../core/types.js';
import type { ConnectorFactoryInput } from './contract.js';
import type { KindConnector } from './kit/operation.js';

export interface ConnectorModule<S = unknown> {
  /** Equals its key in the registry (checked there). */
  kind: string;
  /**
   * Kind-specific target fields in the config file, beside name, kind, admin
   * and critical: the shape of `schema`, so the loader applies the same
   * defaults the connector sees.
   */
  settings: z.ZodRawShape;
  /** The whole settings schema (the shape plus cross-field checks and any transform); the connector gets its output. */
  schema: z.ZodType<S>;
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
  /** Why the admin user cannot be used on this kind, or null. */
  checkAdminUser?(adminUser: string): string | null;
  /** The kind's operations for one target, given parsed settings; kit/create.ts wraps them. */
  open(input: KindInput<S>): KindConnector;
}

export interface KindInput<S> extends Omit<ConnectorFactoryInput, 'settings'> {
  settings: S;
}

/** Types a module against its own settings while the registry holds them all alike. */
export function defineModule<S>(m: ConnectorModule<S>): ConnectorModule {
  return m as unknown as ConnectorModule;
}
