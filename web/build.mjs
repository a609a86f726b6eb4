// SPDX-License-Identifier: Apache-2.0
// The dashboard's build: web/src/ and the npm packages' browser builds (xterm.js, uPlot)
// into one directory of static files that capsuled serves (--web-root; make install puts
// it in $(DATADIR)/capsule/web). `node build.mjs OUTDIR`, from `make web`.
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, '..', 'build', 'web'));
const require = createRequire(import.meta.url);
const pkg = (name) => dirname(require.resolve(`${name}/package.json`));

const vendor = [
  [pkg('@xterm/xterm'), 'lib/xterm.js', 'xterm.js'],
  [pkg('@xterm/xterm'), 'css/xterm.css', 'xterm.css'],
  [pkg('@xterm/xterm'), 'LICENSE', 'LICENSE-xterm.txt'],
  [pkg('uplot'), 'dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  [pkg('uplot'), 'dist/uPlot.min.css', 'uPlot.min.css'],
  [pkg('uplot'), 'LICENSE', 'LICENSE-uPlot.txt'],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'vendor'), { recursive: true });
for (const f of readdirSync(join(here, 'src')))
  cpSync(join(here, 'src', f), join(out, f));
for (const [dir, from, to] of vendor)
  cpSync(join(dir, from), join(out, 'vendor', to));
const versions = Object.fromEntries(['@xterm/xterm', 'uplot'].map((n) =>
  [n, require(`${n}/package.json`).version]));
writeFileSync(join(out, 'versions.json'), JSON.stringify(versions) + '\n');
console.log(`web: ${out} (${Object.entries(versions).map(([n, v]) => `${n} ${v}`).join(', ')})`);
