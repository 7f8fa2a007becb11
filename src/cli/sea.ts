// The entry of the single executable (scripts/release/sea.sh bundles it into one CommonJS script):
// src/cli/main.ts without the Node.js version check (the executable brings its own Node.js) and
// with prepareRuntime() in place of the shebang's node flags.
import { start } from './run.js';
import { prepareRuntime } from './sea-runtime.js';

start(process.argv.slice(2), prepareRuntime());
