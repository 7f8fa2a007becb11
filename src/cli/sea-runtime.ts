// The single executable's stand-in for src/cli/main.ts's shebang (node flags and one environment
// variable). A single executable takes no node flags from its command line (they are the
// exporter's), but it does read NODE_OPTIONS; in-process only --expose-gc can still be had: the flag
// set now exposes `gc` in contexts made afterwards, and that function collects the whole heap, this
// context's too (server/target.ts looks `gc` up when it collects). The semi-space size is fixed
// when the heap is made and glibc reads MALLOC_MMAP_THRESHOLD_ when the process starts, so those two
// must come from the environment (the image and the packages' launcher set them; a re-exec would
// keep a second runtime of ~50 MB waiting and break socket activation, whose LISTEN_PID names the
// first process).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Expose `gc`, and say (as warnings for the log) which of the shebang's settings are missing. */
export function prepareRuntime(env: NodeJS.ProcessEnv = process.env): string[] {
  const notes: string[] = [];
  const g = globalThis as { gc?: () => void };
  if (typeof g.gc !== 'function') {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    if (typeof gc === 'function') g.gc = gc as () => void;
    else notes.push('gc could not be exposed: no full collection after big scrapes');
  }
  if (!/(^|\s)--max-semi-space-size[=\s]/.test(env.NODE_OPTIONS ?? '')) {
    notes.push(
      'NODE_OPTIONS has no --max-semi-space-size: the semi-spaces are sized from the heap limit (smaller on small machines, more garbage collections per scrape); set NODE_OPTIONS=--max-semi-space-size=16',
    );
  }
  if (env.MALLOC_MMAP_THRESHOLD_ === undefined) {
    notes.push(
      'MALLOC_MMAP_THRESHOLD_ is not set: freed chunks of text may stay in the heap; set MALLOC_MMAP_THRESHOLD_=131072',
    );
  }
  return notes;
}
