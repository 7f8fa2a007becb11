// Writes the Debian package's /usr/share/doc/strongswan-exporter/copyright in the machine-readable
// format (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/): the exporter's own
// files, then one paragraph per bundled npm package as installed (name, version, license, and the
// copyright lines of its license file), then the full text of each license used.
// A dependency under a license this file has no text for is an error: its terms must be read before
// it ships.
// For a package whose program is a single executable, the bundled packages are inside that one file.
// Usage: node dist/scripts/release/deb-copyright.js NODE_MODULES_DIR INSTALL_PREFIX [SINGLE_EXECUTABLE]

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Bundled {
  name: string;
  version: string;
  /** SPDX id from its package.json */
  license: string;
  /** the copyright lines of its license file, or its author when the file names nobody */
  holders: string[];
  /** its directory, relative to node_modules */
  dir: string;
}

// SPDX ids as npm packages give them -> DEP-5 short names (DEP-5 calls the MIT license Expat).
const DEP5_NAME: Record<string, string> = {
  MIT: 'Expat',
  ISC: 'ISC',
  'BSD-3-Clause': 'BSD-3-clause',
  'Apache-2.0': 'Apache-2.0',
};

// Apache-2.0 is in /usr/share/common-licenses and is referred to there (Debian Policy 12.5);
// the others are not, so their text goes into the file.
const LICENSE_TEXT: Record<string, string> = {
  Expat: `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:
.
The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.
.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`,
  ISC: `Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.
.
THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`,
  'BSD-3-clause': `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:
.
1. Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.
.
2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.
.
3. Neither the name of the copyright holder nor the names of its contributors
   may be used to endorse or promote products derived from this software
   without specific prior written permission.
.
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.`,
  'Apache-2.0': `Licensed under the Apache License, Version 2.0 (the "License"); you may not
use this software except in compliance with the License. You may obtain a copy
of the License at http://www.apache.org/licenses/LICENSE-2.0
.
Unless required by applicable law or agreed to in writing, software distributed
under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
CONDITIONS OF ANY KIND, either express or implied. See the License for the
specific language governing permissions and limitations under the License.
.
On Debian systems, the complete text of the Apache License, Version 2.0 can be
found in /usr/share/common-licenses/Apache-2.0.`,
};

// A holder line: "Copyright (c) 2016 Someone", "Copyright 2021 X", "Copyright (C) by Y"; not the
// license's own sentences ("copyright notice and ...") nor Apache's appendix template ("[yyyy]").
const HOLDER = /^\s*Copyright\s+(?:\([cC]\)|©)?\s*(?:\d{4}|[A-Z]|by\s)/;

function authorOf(pkg: { author?: unknown; name: string }): string {
  const a = pkg.author;
  if (typeof a === 'string' && a.trim() !== '') return a.trim();
  if (a && typeof a === 'object' && typeof (a as { name?: unknown }).name === 'string') {
    const o = a as { name: string; email?: string };
    return o.email ? `${o.name} <${o.email}>` : o.name;
  }
  return `the ${pkg.name} authors`;
}

/** Every package under node_modules (scoped ones too, nested ones too), sorted by directory. */
export function listBundled(nodeModules: string): Bundled[] {
  const found: Bundled[] = [];
  const visit = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir).sort()) {
      if (entry.startsWith('.')) continue;
      const full = path.join(dir, entry);
      if (entry.startsWith('@')) {
        visit(full);
        continue;
      }
      const manifest = path.join(full, 'package.json');
      if (!fs.existsSync(manifest)) continue;
      const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8')) as {
        name: string;
        version: string;
        license?: unknown;
        author?: unknown;
      };
      if (typeof pkg.license !== 'string') {
        throw new Error(`${pkg.name}: package.json has no SPDX license string`);
      }
      const files = fs.readdirSync(full).filter((f) => /^(licen[cs]e|copying)/i.test(f));
      const holders = new Set<string>();
      for (const f of files) {
        for (const line of fs.readFileSync(path.join(full, f), 'utf8').split('\n')) {
          if (HOLDER.test(line) && !line.includes('[yyyy]')) holders.add(line.trim());
        }
      }
      found.push({
        name: pkg.name,
        version: pkg.version,
        license: pkg.license,
        holders: holders.size > 0 ? [...holders] : [authorOf(pkg)],
        dir: path.relative(nodeModules, full),
      });
      visit(path.join(full, 'node_modules'));
    }
  };
  visit(nodeModules);
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

// A field value over several lines: continuation lines start with a space, empty ones are " .".
function multiline(lines: string[]): string {
  return lines.map((l, i) => (i === 0 ? l : ` ${l === '' ? '.' : l}`)).join('\n');
}

export function renderCopyright(opts: {
  upstreamName: string;
  ownLicense: string;
  ownHolder: string;
  prefix: string;
  bundled: Bundled[];
  /** the single executable (path in the package) that has Node.js and the bundled packages inside */
  singleExecutable?: string;
}): string {
  const used = new Set<string>();
  const dep5 = (spdx: string, what: string) => {
    const name = DEP5_NAME[spdx];
    if (name === undefined) {
      throw new Error(
        `${what} is under ${spdx}, which scripts/release/deb-copyright.ts has no text for: read its terms, then add them there`,
      );
    }
    used.add(name);
    return name;
  };
  const out: string[] = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${opts.upstreamName}`,
    '',
    'Files: *',
    `Copyright: ${opts.ownHolder}`,
    `License: ${dep5(opts.ownLicense, opts.upstreamName)}`,
  ];
  if (opts.singleExecutable !== undefined) {
    // One file holds them all: one paragraph, its license the conjunction of theirs (DEP-5 "and").
    const licenses = [...new Set(['MIT', ...opts.bundled.map((b) => b.license)])].map((l) =>
      dep5(l, 'a part'),
    );
    out.push(
      '',
      `Files: ${opts.singleExecutable}`,
      `Copyright: ${multiline(['Node.js contributors', ...new Set(opts.bundled.flatMap((b) => b.holders))])}`,
      `License: ${[...new Set(licenses)].join(' and ')}`,
      `Comment: ${multiline([
        'A single executable: Node.js (Expat; the third-party components it bundles',
        'are listed with their licenses in its LICENSE file, https://github.com/nodejs/node/blob/main/LICENSE),',
        'this program, and these npm packages:',
        ...opts.bundled.map((b) => `${b.name} ${b.version} (${b.license})`),
      ])}`,
    );
  }
  for (const b of opts.singleExecutable === undefined ? opts.bundled : []) {
    out.push(
      '',
      `Files: ${opts.prefix}/node_modules/${b.dir}/*`,
      `Copyright: ${multiline(b.holders)}`,
      `License: ${dep5(b.license, `${b.name} ${b.version}`)}`,
      `Comment: ${b.name} ${b.version}, bundled from the npm registry`,
    );
  }
  for (const name of [...used].sort()) {
    const text = LICENSE_TEXT[name] as string;
    out.push('', `License: ${name}`, ...text.split('\n').map((l) => ` ${l}`));
  }
  return `${out.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [nodeModules, prefix, singleExecutable] = process.argv.slice(2);
  if (!nodeModules || !prefix) {
    process.stderr.write('usage: deb-copyright.js NODE_MODULES_DIR INSTALL_PREFIX [SINGLE_EXECUTABLE]\n');
    process.exit(2);
  }
  try {
    const own = JSON.parse(fs.readFileSync(path.join(nodeModules, '..', 'package.json'), 'utf8')) as {
      name: string;
      license: string;
    };
    process.stdout.write(
      renderCopyright({
        upstreamName: own.name,
        ownLicense: own.license,
        ownHolder: process.env.DEB_COPYRIGHT ?? `the ${own.name} authors`,
        prefix: prefix.replace(/^\/+|\/+$/g, ''),
        bundled: listBundled(nodeModules),
        ...(singleExecutable ? { singleExecutable: singleExecutable.replace(/^\/+/, '') } : {}),
      }),
    );
  } catch (err) {
    process.stderr.write(`deb-copyright: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
