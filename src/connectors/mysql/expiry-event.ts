// The target-native expiry backstop. MariaDB has no VALID UNTIL, so each
// ephemeral account gets a one-time scheduled event (in the `eventSchema`
// database, run by the event scheduler as the admin) that, at the expiry,
// locks the account and kills its sessions. It locks rather than drops, so an
// extension can still bring the account back and the broker's removal stays
// the one place an account disappears. ON COMPLETION PRESERVE keeps the event
// (disabled) after it ran, so the expiry stays readable for listManaged.
//
// The event body cannot take parameters: the account and marker are string
// literals escaped by mysql2 (the connector pins sql_mode so backslash
// escapes hold, and an event keeps the sql_mode it was created with).

import { eventName, literal, quoteAccount, quoteId, utcDateTime, type Account } from './grammar.js';

const bin = (s: string) => `${literal(s)} COLLATE utf8mb4_bin`;

export function createExpiryEventSql(schema: string, a: Account, marker: string, expiresAt: Date): string {
  return `CREATE OR REPLACE DEFINER = CURRENT_USER EVENT ${quoteId(schema)}.${quoteId(eventName(a))}
  ON SCHEDULE AT ${literal(utcDateTime(expiresAt))}
  ON COMPLETION PRESERVE ENABLE
  COMMENT 'Stint expiry backstop: locks a Stint account'
  DO BEGIN
    DECLARE CONTINUE HANDLER FOR 1094 BEGIN END;
    IF EXISTS (SELECT 1 FROM mysql.roles_mapping
                WHERE User = ${bin(a.user)} AND Host = ${bin(a.host)} AND Role = ${bin(marker)} AND Admin_option = 'N') THEN
      ALTER USER ${quoteAccount(a)} ACCOUNT LOCK;
      FOR s IN (SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ${bin(a.user)} AND ID <> CONNECTION_ID()) DO
        KILL CONNECTION s.ID;
      END FOR;
    END IF;
  END`;
}

export function dropExpiryEventSql(schema: string, a: Account): string {
  return `DROP EVENT IF EXISTS ${quoteId(schema)}.${quoteId(eventName(a))}`;
}
