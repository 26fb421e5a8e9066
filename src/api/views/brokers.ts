// GET /v1/brokers: the brokers sharing this store, from their heartbeats.

import { z } from 'zod';

export const brokerView = z.object({
  id: z.string(),
  address: z.string().describe('where its HTTP API listens'),
  version: z.string(),
  configDigest: z.string().describe('sha256 of its config file; brokers that differ run different configs'),
  startedAt: z.string(),
  lastHeartbeat: z.string(),
  heldGrants: z.number().describe('grants whose provisioning or revocation it holds a live claim on'),
  self: z.boolean().describe('the broker that answered'),
});
export type BrokerView = z.infer<typeof brokerView>;

export const brokersView = z.object({
  brokers: z.array(brokerView),
  configDigests: z.number().describe('how many different configs the live brokers run (1 when they agree)'),
  deadAfterSeconds: z.number().describe('a broker whose last heartbeat is older than this is left out'),
});
export type BrokersView = z.infer<typeof brokersView>;
