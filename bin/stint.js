#!/usr/bin/env node
// The `stint` command. Runs the TypeScript sources through tsx, so
// `npx stint` works from a checkout without a build step. Paths resolve
// relative to this file, so it works from any directory.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
