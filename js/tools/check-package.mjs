// Static checks of the assembled package:
// - miniprogram_dist has no `BigInt(`, `import.meta`, bare `WebAssembly.`, `fetch(`, `import(`
//   or ES `export`/`import` statements (the runtime requires CommonJS and has none of those);
// - no private-key code in any shipped wasm (wxpay-core's `private-key` feature pulls in
//   aws-lc; its symbols or our PrivateKey type would show in the module's strings);
// - the uni-app glue and entry contain no `import.meta` either (uni compiles them to
//   mini-program code);
// - every path named in package.json `exports` exists, and `types` comes first.
// usage: node check-package.mjs <pkg dir>
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';

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

const PRIVATE = [/aws[_-]?lc/i, /PrivateKey/, /private-key/, /pkcs8/i, /rsa::.*RsaPrivateKey/];
const wasms = walk(pkg).filter((f) => f.endsWith('.wasm') || f.endsWith('.wasm.br'));
for (const f of wasms) {
  const bytes = f.endsWith('.br') ? brotliDecompressSync(readFileSync(f)) : readFileSync(f);
  const text = bytes.toString('latin1');
  for (const re of PRIVATE) if (re.test(text)) problems.push(`${f}: matches ${re} (private-key code in the wasm?)`);
}

// Published types: no `any`, no global declarations (a global `wx` would clash with the app's
// own miniprogram-api-typings / jweixin typings), no triple-slash references to them.
for (const f of walk(pkg).filter((f) => f.endsWith('.d.ts') && !f.includes('/wasm/'))) {
  const text = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  if (/[:<,(|]\s*any\b|\bany\[\]/.test(text)) problems.push(`${f}: \`any\` in the public types`);
  if (/^\s*declare\s+(global|const|var|let|function|namespace)\b/m.test(text)) problems.push(`${f}: declares a global`);
  if (/\/\/\/\s*<reference/.test(readFileSync(f, 'utf8'))) problems.push(`${f}: triple-slash reference`);
}

const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
const visit = (node, where) => {
  if (typeof node === 'string') {
    if (!existsSync(join(pkg, node))) problems.push(`exports ${where}: ${node} does not exist`);
    return;
  }
  const keys = Object.keys(node);
  if (keys.includes('types') && keys[0] !== 'types') problems.push(`exports ${where}: "types" must come first`);
  for (const k of keys) visit(node[k], `${where}.${k}`);
};
visit(manifest.exports, '');
if (!existsSync(join(pkg, manifest.miniprogram ?? 'miniprogram_dist', 'index.js'))) problems.push('miniprogram field: no index.js');

if (problems.length) {
  for (const p of problems) console.error(`PACKAGE CHECK FAILED: ${p}`);
  process.exit(1);
}
console.log(`package checks: ok (${mpJs.length} mini-program JS files, ${wasms.length} wasm files, exports resolved)`);
