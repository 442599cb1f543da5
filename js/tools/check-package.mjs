// Static checks of the assembled package:
// - miniprogram_dist has no `BigInt(`, `import.meta`, bare `WebAssembly.`, `fetch(`, `import(`
//   or ES `export`/`import` statements (the runtime requires CommonJS and has none of those);
// - the uni-app glue and entry contain no `import.meta` either (uni compiles them to
//   mini-program code);
// - the published .d.ts files have no `any` and declare no globals;
// - every path named in package.json `exports` exists, and `types` comes first;
// - the licence texts its `license` names are in the package and in its `files` list.
// ("No private-key code in the wasm" is checked by build-client.sh on the dependency graph and
// on the linked modules before wasm-opt strips their function names: check-no-private-key.mjs.)
// usage: node check-package.mjs <pkg dir>
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { LICENSE_FILES, licenseProblems } from './licenses.mjs';

const pkg = process.argv[2];
const problems = [];
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });

const FORBIDDEN_MP = [
  [/BigInt\(/, 'BigInt('],
  [/import\.meta/, 'import.meta'],
  [/(^|[^\w$])WebAssembly\./, 'WebAssembly.'],
  [/(^|[^\w$.])fetch\(/, 'fetch('],
  [/(^|[^\w$.])import\(/, 'dynamic import('],
  [/^\s*(export|import)\s/m, 'ES module syntax'],
];
const mpJs = walk(join(pkg, 'miniprogram_dist')).filter((f) => f.endsWith('.js'));
if (mpJs.length === 0) problems.push('miniprogram_dist has no .js files');
for (const f of mpJs) {
  const text = readFileSync(f, 'utf8');
  for (const [re, what] of FORBIDDEN_MP) if (re.test(text)) problems.push(`${f}: contains ${what}`);
}
for (const f of walk(join(pkg, 'miniprogram_dist'))) {
  if (f.endsWith('.wasm') || f.endsWith('.map') || f.includes('.test.')) problems.push(`${f}: does not belong in miniprogram_dist`);
}
for (const f of [join(pkg, 'esm/wasm/mp/wxpay_wasm.js'), join(pkg, 'esm/entries/uniapp.js')]) {
  if (existsSync(f) && /import\.meta/.test(readFileSync(f, 'utf8'))) problems.push(`${f}: contains import.meta`);
}

const wasms = walk(pkg).filter((f) => f.endsWith('.wasm') || f.endsWith('.wasm.br'));

// Published types (ours and the generated wasm-bindgen ones): no `any` in any position
// (`: any`, `=> any`, `= any`, `extends any`, `any[]`…; comments and string literals aside),
// no global declarations (a global `wx` would clash with the app's own
// miniprogram-api-typings / jweixin typings), no triple-slash references to them.
const code = (text) =>
  text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, '""');
for (const f of walk(pkg).filter((f) => f.endsWith('.d.ts'))) {
  const text = code(readFileSync(f, 'utf8'));
  const line = text.split('\n').find((l) => /(^|[^\w$.])any(?![\w$])/.test(l));
  if (line !== undefined) problems.push(`${f}: \`any\` in the public types: ${line.trim()}`);
  if (/^\s*declare\s+(global|const|var|let|function|namespace)\b/m.test(text)) problems.push(`${f}: declares a global`);
  if (/\/\/\/\s*<reference/.test(readFileSync(f, 'utf8'))) problems.push(`${f}: triple-slash reference`);
}

const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
const visit = (node, where) => {
  if (typeof node === 'string') {
    if (!existsSync(join(pkg, node))) problems.push(`exports ${where}: ${node} does not exist`);
    return;
  }
  // "types" must precede every condition that names a file; a condition holding its own
  // object (e.g. "node": { "types", "default" }) may come before it.
  const keys = Object.keys(node);
  const t = keys.indexOf('types');
  if (t > 0 && keys.slice(0, t).some((k) => typeof node[k] === 'string')) problems.push(`exports ${where}: "types" must come first`);
  for (const k of keys) visit(node[k], `${where}.${k}`);
};
visit(manifest.exports, '');
if (!existsSync(join(pkg, manifest.miniprogram ?? 'miniprogram_dist', 'index.js'))) problems.push('miniprogram field: no index.js');
problems.push(...licenseProblems(pkg, manifest.license));
// npm always packs LICENSE / LICENCE, but not LICENSE-MIT or LICENSE-APACHE: they must be listed.
for (const file of Object.values(LICENSE_FILES)) {
  if (!(manifest.files ?? []).includes(file)) problems.push(`package.json files does not list ${file}`);
}

if (problems.length) {
  for (const p of problems) console.error(`PACKAGE CHECK FAILED: ${p}`);
  process.exit(1);
}
console.log(`package checks: ok (${mpJs.length} mini-program JS files, ${wasms.length} wasm files, exports resolved)`);
