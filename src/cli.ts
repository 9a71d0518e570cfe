#!/usr/bin/env node
/*!
 * The `wsdiag` command's entry: sets up the process's heap (src/heap.ts), then starts the command
 * line (src/command.ts), whose modules load only after that.
 */
import { keepHeapSmall } from './heap.js';

keepHeapSmall();
await import('./command.js');
