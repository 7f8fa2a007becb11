// deb-copyright: every bundled package gets a paragraph with the holders of its license file, each
// license used gets its text once (Apache-2.0 by reference), and an unknown license is an error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { listBundled, renderCopyright } from './deb-copyright.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'deb-copyright-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function pkg(dir: string, manifest: object, license?: string) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  if (license !== undefined) fs.writeFileSync(path.join(dir, 'LICENSE'), license);
}

describe('deb-copyright', () => {
  const nm = path.join(tmp, 'node_modules');
  pkg(
    path.join(nm, 'a'),
    { name: 'a', version: '1.0.0', license: 'MIT' },
    'MIT License\n\nCopyright (C) 2011 by A Person\n\nThe above copyright notice and this permission notice shall be included\n',
  );
  pkg(
    path.join(nm, '@s/b'),
    { name: '@s/b', version: '2.0.0', license: 'Apache-2.0', author: { name: 'B Corp' } },
    '   Copyright [yyyy] [name of copyright owner]\n',
  );
  pkg(
    path.join(nm, 'a/node_modules/c'),
    { name: 'c', version: '3.0.0', license: 'ISC' },
    'Copyright (c) 2014, C <c@example.org>\n',
  );

  it('lists scoped and nested packages with the holders of their license files, or their author', () => {
    const b = listBundled(nm);
    assert.deepEqual(
      b.map((x) => [x.dir, x.license, x.holders]),
      [
        ['@s/b', 'Apache-2.0', ['B Corp']],
        ['a', 'MIT', ['Copyright (C) 2011 by A Person']],
        [path.join('a', 'node_modules', 'c'), 'ISC', ['Copyright (c) 2014, C <c@example.org>']],
      ],
    );
  });

  it('renders DEP-5 paragraphs and each license text once, Apache-2.0 by reference', () => {
    const text = renderCopyright({
      upstreamName: 'x',
      ownLicense: 'MIT',
      ownHolder: 'the x authors',
      prefix: 'usr/lib/x',
      bundled: listBundled(nm),
    });
    assert.match(
      text,
      /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/,
    );
    assert.match(
      text,
      /\nFiles: usr\/lib\/x\/node_modules\/a\/\*\nCopyright: Copyright \(C\) 2011 by A Person\nLicense: Expat\n/,
    );
    assert.equal(text.match(/^License: Expat$/gm)?.length, 3, 'Files: *, a, and the text paragraph');
    assert.equal(text.match(/^License: ISC$/gm)?.length, 2);
    assert.match(text, /\/usr\/share\/common-licenses\/Apache-2\.0/);
    assert.doesNotMatch(text, /TERMS AND CONDITIONS/, 'no full Apache text');
    // continuation lines of a field start with a space; empty ones are " ."
    for (const line of text.split('\n')) assert.doesNotMatch(line, /^\s+$/);
  });

  it('a single executable gets one paragraph naming every package inside it', () => {
    const text = renderCopyright({
      upstreamName: 'x',
      ownLicense: 'MIT',
      ownHolder: 'the x authors',
      prefix: 'usr/lib/x',
      bundled: listBundled(nm),
      singleExecutable: 'usr/lib/x/x',
    });
    assert.match(text, /\nFiles: usr\/lib\/x\/x\n/);
    assert.match(text, /\nLicense: Expat and Apache-2.0 and ISC\n/);
    assert.match(text, /^ c 3\.0\.0 \(ISC\)$/m);
    assert.doesNotMatch(text, /node_modules/);
  });

  it('refuses a license it has no text for', () => {
    pkg(path.join(tmp, 'nm2', 'd'), { name: 'd', version: '1.0.0', license: 'GPL-3.0-only' });
    assert.throws(
      () =>
        renderCopyright({
          upstreamName: 'x',
          ownLicense: 'MIT',
          ownHolder: 'h',
          prefix: 'p',
          bundled: listBundled(path.join(tmp, 'nm2')),
        }),
      /d 1\.0\.0 is under GPL-3\.0-only/,
    );
  });
});
