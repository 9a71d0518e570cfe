#!/usr/bin/env node
/*!
 * The `wsdiag` command's entry: sets up the process's heap (src/heap.ts), starts a worker thread
 * early when the arguments look like a report over a large file, then starts the command line
 * (src/command.ts), whose modules load only after that. The build makes this file and its
 * worker's one file each, with what they import (dist/cli.js and dist/worker.js, by esbuild;
 * the packages loaded only in some modes stay apart): a command over a large log reached its
 * first line 60 ms later loading its 100 modules one by one.
 */
import { fstatSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { keepHeapSmall } from './heap.js';
import { MIN_WORKER_BYTES, prestartWorker } from './core/worker-start.js';

/** Arguments after which no pool reads in parallel, or reads only later: another mode, or a worker count chosen. */
const NOT_A_READ = /^(ingest|completion|-h|--help|--version|-f|--follow|--clickhouse|--workers)(=|$)/;

/**
 * Will this command read a file large enough for a worker thread (so one may start before the
 * command line is even parsed)? A guess from the arguments alone: a wrong one costs a worker
 * never used, or the early start missed.
 */
function readsInParallel(args: readonly string[]): boolean {
  if (availableParallelism() < 2 || args.some((a) => NOT_A_READ.test(a))) return false;
  const names = inputNames(args);
  return [...names, ...(readsStdin(args) ? [0] : [])].some((input) => fileSize(input) >= MIN_WORKER_BYTES);
}

/** The arguments that look like inputs (an option's value looks like one too: a guess). */
function inputNames(args: readonly string[]): string[] {
  return args.filter((a) => !a.startsWith('-'));
}

/** Is standard input one of the inputs (none named, or `-`)? */
function readsStdin(args: readonly string[]): boolean {
  return inputNames(args).length === 0 || args.includes('-');
}

/** The size of a regular file, named or open (0: standard input); 0 for anything else, or one that cannot be read. */
function fileSize(input: string | number): number {
  try {
    const s = typeof input === 'number' ? fstatSync(input) : statSync(input);
    return s.isFile() ? s.size : 0;
  } catch {
    return 0;
  }
}

/**
 * Will this command watch live (a followed file, JSON lines out, or standard input a pipe it
 * reads)? A guess from the arguments, for the heap's settings (src/heap.ts): a wrong one costs
 * time or a few MB, not results.
 */
function watchesLive(args: readonly string[]): boolean {
  const jsonl = args.some((a, i) => /^(-o|--output)=jsonl$/.test(a) || (/^(-o|--output)$/.test(a) && args[i + 1] === 'jsonl'));
  if (jsonl || args.some((a) => /^(-f|--follow)(=|$)/.test(a))) return true;
  if (!readsStdin(args)) return false;
  try {
    const s = fstatSync(0);
    return s.isFIFO() || s.isSocket();
  } catch {
    return false;
  }
}

const args = process.argv.slice(2);
keepHeapSmall(watchesLive(args));
if (readsInParallel(args)) prestartWorker();
await import('./command.js');
