// The entry of the single executable (scripts/release/sea.sh bundles it into one CommonJS script):
// src/cli/main.ts without the Node.js version check (the executable brings its own Node.js) and
// with sea-runtime.js first, in place of the shebang's node flags.
import './sea-runtime.js';
import { start } from './run.js';

start(process.argv.slice(2));
