/*!
 * The command's heap: its young generation keeps its first size (1 MB a semi-space). V8 doubles
 * it, up to 16 MB, each time as many bytes as it holds have outlived a collection, which loading
 * the modules and a run's merged tallies always do; the main thread's heap was then mostly empty
 * young space (32 of its 50 MB). A process cannot cap that once started (`--max-semi-space-size`
 * is read at start), but V8 reads the growth factor at each growth, and at 1 the space stays as it
 * is. V8's flags are the process's, and starting a worker thread sets them back to the command
 * line's as its isolate starts, so they are set again when each worker comes online
 * (core/workers.ts). Only the command asks for this: a program that imports the library keeps its
 * heap as it chose.
 */
import { setFlagsFromString } from 'node:v8';

const SMALL_YOUNG = '--semi-space-growth-factor=1';
let asked = false;

/** From now on (and in every worker thread started later) the young generation does not grow. */
export function keepYoungGenerationSmall(): void {
  asked = true;
  setFlagsFromString(SMALL_YOUNG);
}

/** Sets the flag again if this process asked for it: starting a worker thread set it back. */
export function reassertHeapFlags(): void {
  if (asked) setFlagsFromString(SMALL_YOUNG);
}
