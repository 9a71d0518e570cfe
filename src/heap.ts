/*!
 * The command's heap, three settings V8 reads as it goes (not only at start):
 * - The young generation keeps its first size (1 MB a semi-space). V8 doubles it, up to 16 MB,
 *   each time as many bytes as it holds have outlived a collection, which loading the modules and
 *   a run's merged tallies always do; the main thread's heap was then mostly empty young space
 *   (32 of its 50 MB). At a growth factor of 1 the space stays as it is.
 * - The old generation grows by 30 % of what outlived a full collection before the next one, not
 *   up to 4 times (V8's factor for a heap allowed 1 GB or more). Most of what a run lets go of is
 *   outside the heap: the buffers of the parts' tallies that crossed threads, freed only when a
 *   full collection finds them dead, and a heap of 12 MB left tens of MB of them waiting. Measured
 *   on two tiers of 1.3M keyed lines: peak 171 → 143 MiB, 62 full collections instead of 34
 *   (65 ms more in all); one tier of 2M lines 135 → 118 MiB, 1–3 % more time.
 * - No pretenuring: V8 allocates objects straight in the old generation once most of those made at
 *   their place in the code outlive a young collection. A part's tally lives through about one,
 *   and was then left in the worker's old generation, collected in full only every 8 MB (V8's
 *   least step, whatever the growth factor): a run's peak moved by 10 MB with where the worker's
 *   heap stood. Without, it dies young. Measured on 2M lines: peak 104.4 (101.2–112.3) → 104.9
 *   (103.7–106.1) MiB, 10 runs; on 20M lines 115.6 (113.6–122.5) → 114.5 (113.7–115.9), 6 runs;
 *   time 0.98×. A live run keeps V8's pretenuring: its panes live for minutes.
 * A process cannot cap these sizes once started (`--max-semi-space-size` is read at start), but
 * the factors are read at each growth. V8's flags are the process's, and starting a worker thread
 * sets them back to the command line's as its isolate starts, so they are set again when each
 * worker comes online (core/worker-start.ts). Only the command asks for this: a program that imports
 * the library keeps its heap as it chose.
 */
import { setFlagsFromString } from 'node:v8';

const HEAP_FLAGS = '--semi-space-growth-factor=1 --heap-growing-percent=30';
const NO_PRETENURING = ' --no-allocation-site-pretenuring';
let asked = '';

/**
 * From now on (and in every worker thread started later) the young generation does not grow, the
 * old grows by 30 %, and nothing is pretenured, unless `pretenure` (a live run, whose panes hold
 * what it counts for minutes: through a pipe at full speed it took 1.10× the time without).
 */
export function keepHeapSmall(pretenure = false): void {
  asked = HEAP_FLAGS + (pretenure ? '' : NO_PRETENURING);
  setFlagsFromString(asked);
}

/** Sets the flags again if this process asked for them: starting a worker thread set them back. */
export function reassertHeapFlags(): void {
  if (asked !== '') setFlagsFromString(asked);
}
