// `strongswan_exporter query COMMAND [key=value ...]`: run one VICI command and print what the daemon
// answers as JSON lines: one `{"event":...,"message":...}` per streamed event, then `{"response":...}`.

import { parseArgs } from 'node:util';
import { parseDuration } from '../server/duration.js';
import {
  DEFAULT_VICI_ADDRESS,
  messageToJson,
  STREAMED_COMMANDS,
  ViciClient,
  type ViciInput,
} from '../vici/index.js';

export const QUERY_USAGE = `usage: strongswan_exporter query COMMAND [key=value ...] [--vici.address URI] [--vici.timeout 5s]

Runs one VICI command against charon and prints the answer as JSON lines: one line per streamed
event ({"event":"list-sa","message":{...}}), then {"response":{...}}. Sections become objects, lists
arrays, values strings; binary values are printed as "base64:...".

Arguments:
  key=value          a request key; a.b=value puts it in section a; repeating a key makes a list
Flags:
  --vici.address URI VICI socket (default ${DEFAULT_VICI_ADDRESS}; also tcp://host:port or a path)
  --vici.timeout D   bound for the whole call (default 5s)
  --stream EVENT     treat COMMAND as streamed with this event (list-* commands are known already)

Examples:
  strongswan_exporter query version
  strongswan_exporter query list-sas noblock=yes
  strongswan_exporter query get-counters all=yes
`;

/** Build a request message from key=value arguments. */
export function parseRequestArgs(args: string[]): ViciInput {
  const root: ViciInput = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new Error(`request argument "${arg}" is not key=value`);
    const path = arg.slice(0, eq).split('.');
    const value = arg.slice(eq + 1);
    let sec: ViciInput = root;
    for (const part of path.slice(0, -1)) {
      const next = sec[part];
      if (next === undefined) sec[part] = {};
      else if (typeof next !== 'object' || Array.isArray(next) || Buffer.isBuffer(next)) {
        throw new Error(`request argument "${arg}": ${part} is not a section`);
      }
      sec = sec[part] as ViciInput;
    }
    const key = path[path.length - 1] as string;
    const prev = sec[key];
    if (prev === undefined) sec[key] = value;
    else if (Array.isArray(prev)) (prev as string[]).push(value);
    else if (typeof prev === 'string') sec[key] = [prev, value];
    else throw new Error(`request argument "${arg}": ${key} is a section`);
  }
  return root;
}

export async function runQuery(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'vici.address': { type: 'string', default: DEFAULT_VICI_ADDRESS },
      'vici.timeout': { type: 'string', default: '5s' },
      stream: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out.write(QUERY_USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw new Error('query: missing COMMAND (try --help)');
  const timeoutMs = parseDuration(values['vici.timeout']);
  if (timeoutMs <= 0) throw new Error('--vici.timeout must be positive');
  const request = parseRequestArgs(rest);
  const client = new ViciClient({ address: values['vici.address'], timeoutMs });
  // A reader that stops early (`| head`) closes the pipe: stop the query and end quietly, as other
  // command-line tools do. Any other write error is one line. The listener stays: an error of the
  // last write arrives after this function has returned.
  let outClosed = false;
  let outError: Error | undefined;
  out.on('error', (err: NodeJS.ErrnoException) => {
    outClosed = true;
    if (err.code !== 'EPIPE') outError = err;
    client.close();
  });
  const write = (obj: unknown) => {
    if (!outClosed) out.write(`${JSON.stringify(obj)}\n`);
  };
  try {
    const event = values.stream ?? STREAMED_COMMANDS[command];
    let response: ReturnType<typeof messageToJson>;
    if (event !== undefined) {
      const r = await client.stream(
        command,
        request,
        (m) => {
          write({ event, message: messageToJson(m) });
        },
        { event, checkSuccess: false },
      );
      response = messageToJson(r.response);
    } else {
      response = messageToJson(await client.command(command, request, { checkSuccess: false }));
    }
    write({ response });
    if (response.success !== undefined && response.success !== 'yes') {
      throw new Error(`${command}: ${typeof response.errmsg === 'string' ? response.errmsg : 'failed'}`);
    }
    return 0;
  } catch (err) {
    if (!outClosed) throw err;
    if (outError) throw new Error(`query: writing the output failed: ${outError.message}`);
    return 0;
  } finally {
    client.close();
  }
}
