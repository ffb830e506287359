#!/usr/bin/env node
// The `ssehub` command: runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../src/runtimes/cli.ts');
