// Slack (Block Kit) and Teams (Adaptive Card) payloads, exactly: people's
// text in Slack plain_text with & < > escaped (so <!channel>, <url|x> and
// *x* show as written), in Teams with Markdown punctuation escaped; control
// characters as visible escapes; the only link is the request's page.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { slackPayload, teamsPayload } from './chat.js';
import { makeOutboxRow } from '../store/testing/store-suite-outbox.js';

const row = makeOutboxRow({
  channel: 'slack:ops',
  recipient: null,
  audience: null,
  notification: {
    kind: 'request.pending',
    at: 0,
    requestId: 'req_abc',
    user: 'alice',
    profile: 'pg-dba',
    target: 'pg',
    duration: '1h',
    reason: '<!channel> *x* <http://evil|y> & \u001b[2J',
    message: 'm',
  },
});

describe('chat payloads', () => {
  it('Slack: Block Kit with plain_text facts and one link to the request page', () => {
    assert.deepEqual(slackPayload(row, 'https://stint.example'), {
      text: 'Needs your approval: alice requests pg-dba on pg',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Needs your approval: alice requests pg-dba on pg', emoji: false } },
        {
          type: 'section',
          fields: [
            { type: 'plain_text', text: 'Request: req_abc', emoji: false },
            { type: 'plain_text', text: 'Requester: alice', emoji: false },
            { type: 'plain_text', text: 'Profile: pg-dba', emoji: false },
            { type: 'plain_text', text: 'Target: pg', emoji: false },
            { type: 'plain_text', text: 'Duration: 1h', emoji: false },
            { type: 'plain_text', text: 'Reason: &lt;!channel&gt; *x* &lt;http://evil|y&gt; &amp; \\x1b[2J', emoji: false },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '<https://stint.example/requests/req_abc|Open request req_abc>' } },
      ],
    });
  });

  it('Teams: an Adaptive Card with escaped Markdown and an OpenUrl to the request page', () => {
    const p = teamsPayload(row, 'https://stint.example') as { attachments: { content: { body: unknown[]; actions: unknown[] } }[] };
    const card = p.attachments[0]!.content;
    assert.deepEqual(card.body[0], {
      type: 'TextBlock',
      text: 'Needs your approval: alice requests pg\\-dba on pg',
      weight: 'Bolder',
      size: 'Medium',
      wrap: true,
    });
    assert.deepEqual((card.body[1] as { facts: unknown[] }).facts.at(-1), {
      title: 'Reason',
      value: '\\<\\!channel\\> \\*x\\* \\<http://evil\\|y\\> \\& \\\\x1b\\[2J',
    });
    assert.deepEqual(card.actions, [{ type: 'Action.OpenUrl', title: 'Open request req_abc', url: 'https://stint.example/requests/req_abc' }]);
  });
});
