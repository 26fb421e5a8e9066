// Entry point of the `stint` CLI (bin/stint.js loads its compiled copy in dist/): runs
// the command, flushes stdout and stderr, exits with the command's code.

import type { CliIO } from './command.js';
import { runCli } from './dispatch.js';

const write = (stream: NodeJS.WriteStream) => (text: string) => {
  stream.write(text);
};

// `stint grants | head -1` closes the pipe early; that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

const io: CliIO = {
  stdout: write(process.stdout),
  stderr: write(process.stderr),
  env: process.env,
  isTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
};

const code = await runCli(process.argv.slice(2), io);
await Promise.all([flush(process.stdout), flush(process.stderr)]);
process.exit(code);

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.writableLength === 0) resolve();
    else stream.write('', () => resolve());
  });
}
