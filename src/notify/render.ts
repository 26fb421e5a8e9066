// What a notification says, once, for every channel: a title for its
// audience, labelled facts and the link to the request's page. Free text
// (reasons, tickets, comments, error text) is hostile until escaped: control
// and invisible characters become visible escapes here (core/text.ts), and
// each channel then escapes for its own markup (html, slackText, teamsText).

import { escapeText } from '../core/text.js';
import type { Audience, Notification } from '../core/notify/notification.js';

export interface Rendered {
  title: string;
  facts: [label: string, value: string][];
  /** The web UI's page for the request; never a link that changes anything. */
  link: { url: string; label: string } | null;
}

const clean = (s: string) => escapeText(s);

function title(n: Notification, audience: Audience | null): string {
  const who = n.user ?? 'someone';
  const what = `${n.profile ?? 'a profile'} on ${n.target ?? 'a target'}`;
  switch (n.kind) {
    case 'request.pending':
      return audience === 'requester' ? `Your request for ${what} is waiting for approval` : `Needs your approval: ${who} requests ${what}`;
    case 'request.reminder':
      return `Reminder, needs your approval: ${who} requests ${what}`;
    case 'request.escalated':
      return `Escalated, needs your approval: ${who} requests ${what}`;
    case 'request.approved':
      return `Approved: ${who}'s request for ${what}`;
    case 'request.denied':
      return `Denied: ${who}'s request for ${what}`;
    case 'request.cancelled':
      return `Cancelled: ${who}'s request for ${what}`;
    case 'request.expired-unapproved':
      return `Expired without approval: ${who}'s request for ${what}`;
    case 'grant.active':
      return `Access active: ${who} has ${what}`;
    case 'grant.expiring':
      return `Access ends soon: ${who}'s ${what}`;
    case 'grant.revoked':
      return `Access removed: ${who}'s ${what}`;
    case 'grant.revoke-failing':
      return `ALERT: removing ${who}'s ${what} is failing (retrying)`;
    case 'grant.revoke-recovered':
      return `Recovered: ${who}'s ${what} is removed after failing`;
    case 'grant.break-glass':
      return `ALERT: break-glass: ${who} activated ${what} without approval`;
  }
}

export function render(n: Notification, audience: Audience | null, webUrl: string | null): Rendered {
  const facts: [string, string][] = [];
  const add = (label: string, v: string | null | undefined) => {
    if (v !== undefined && v !== null && v !== '') facts.push([label, clean(v)]);
  };
  add('Request', n.requestId);
  add('Grant', n.grantId);
  add('Requester', n.user);
  add('Profile', n.profile);
  add('Target', n.target);
  add('Duration', n.duration);
  add('Reason', n.reason);
  add('Ticket', n.ticket);
  add('By', n.by);
  add('Comment', n.comment);
  if (n.expiresAt !== undefined) add('Until', new Date(n.expiresAt).toISOString());
  if (n.kind === 'grant.revoke-failing') add('Detail', n.message);
  const link = webUrl && n.requestId ? { url: `${webUrl}/requests/${encodeURIComponent(n.requestId)}`, label: `Open request ${n.requestId}` } : null;
  return { title: clean(title(n, audience)), facts, link };
}

/** For HTML text and attribute values. */
export function html(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Slack's three control characters; anything else in a plain_text object shows as written. */
export function slackText(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/** Adaptive Card TextBlocks render a Markdown subset: its punctuation is backslash-escaped so text shows as written. */
export function teamsText(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}
