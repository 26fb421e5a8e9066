// A session's recording bound to the audit chain: the SHA-256 of its
// statement log (DIR/<sessionId>.jsonl, end line included) and of each
// terminal recording (DIR/<sessionId>-<channel>.cast), taken once the files
// are complete and written into the `session.ended` event. `stint sessions
// verify` hashes them again through the sessions reader and compares.

import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/** What `session.ended` carries: hex SHA-256 of the log, and of each cast by channel. */
export interface RecordingDigest {
  log: string;
  casts: Record<string, string>;
}

export async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The digest of a session's files on disk (the gateways' writer side). */
export async function digestSessionFiles(dir: string, sessionId: string): Promise<RecordingDigest> {
  const cast = new RegExp(`^${sessionId}-(\\d{1,9})\\.cast$`);
  const casts: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const m = cast.exec(name);
    if (m) casts[String(Number(m[1]))] = await sha256Of(createReadStream(join(dir, name)));
  }
  return { log: await sha256Of(createReadStream(join(dir, `${sessionId}.jsonl`))), casts };
}
