// Turns wasm-bindgen's `--target web` glue (mini-program flavour) into a CommonJS module that
// runs in WeChat's mini-program logic layer:
//   - TextEncoder/TextDecoder come from our own shim (the runtime has none; the glue builds
//     them at module top level, so they must be bound before any glue code runs);
//   - the web loader (fetch, instantiateStreaming, `new URL(…, import.meta.url)`,
//     `new WebAssembly.Module`) is cut off: our loader calls WXWebAssembly.instantiate with a
//     package path and hands the instance to `__wbg_finalize_init`;
//   - ES `export`s become `module.exports`.
// Every needle must be found exactly as expected, or the build fails: a silent no-op patch
// would ship a module that breaks only on a phone.
//
// usage: node patch-mp-glue.mjs <in.js> <out.js> <cjs|esm>
//   cjs: for miniprogram_dist (native mini-programs `require`);
//   esm: for the uni-app entry (Vite bundles it before uni compiles to mini-program code).
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, mode] = process.argv.slice(2);
if (!input || !output || (mode !== 'cjs' && mode !== 'esm')) {
  console.error('usage: patch-mp-glue.mjs <in.js> <out.js> <cjs|esm>');
  process.exit(2);
}
let src = readFileSync(input, 'utf8');

function fail(msg) {
  console.error(`patch-mp-glue: ${msg} (wasm-bindgen output changed? update js/tools/patch-mp-glue.mjs)`);
  process.exit(1);
}
function needle(re, what) {
  const m = src.match(re);
  if (!m) fail(`needle not found: ${what}`);
  return m;
}

// 1. The self-types comment points at the ESM d.ts; drop it.
src = src.replace(/^\/\* @ts-self-types="[^"]*" \*\/\n/, '');

// 2. Cut everything from the web loader on; keep __wbg_finalize_init (defined before it).
needle(/\nfunction __wbg_finalize_init\(instance, module\) \{/, '__wbg_finalize_init');
const cut = needle(/\nasync function __wbg_load\(/, '__wbg_load').index;
const tail = src.slice(cut);
for (const [re, what] of [
  [/\nfunction initSync\(/, 'initSync'],
  [/\nasync function __wbg_init\(/, '__wbg_init'],
  [/\nexport \{ initSync, __wbg_init as default \};\s*$/, 'final export line'],
]) {
  if (!re.test(tail)) fail(`needle not found after __wbg_load: ${what}`);
}
src = src.slice(0, cut) + '\n';

// 3. `export function name(` → `function name(`, collecting the names.
const names = [];
src = src.replace(/^export function ([A-Za-z_$][\w$]*)\(/gm, (_, name) => {
  names.push(name);
  return `function ${name}(`;
});
if (names.length === 0) fail('no exported functions found');
if (/^export /m.test(src)) fail('an export form this patch does not handle (class? const?) is present');

// 4. The text codec must be module-local bindings, present before the glue's top level runs.
needle(/new TextDecoder\('utf-8'/, 'TextDecoder construction');
needle(/new TextEncoder\(\)/, 'TextEncoder construction');
// 5. Memory views are re-created whenever the memory's buffer is a different object. Real
//    wasm detaches the old buffer on growth (the glue's own checks catch that); the wasm2js
//    fallback (uni-app App on iOS) cannot detach it, so identity is the only reliable signal.
let views = 0;
src = src.replace(/^(\s*)if \((cached\w+Memory0) === null \|\| [^\n]*\) \{$/gm, (_, indent, name) => {
  views += 1;
  return `${indent}if (${name} === null || ${name}.buffer !== wasm.memory.buffer) {`;
});
if (views === 0) fail('no cached memory views found');

// 6. Optional hygiene (uniffi's mini-program patch does the same): no `window` accessor.
src = src.replace(/typeof window === 'undefined' \? null : window/g, 'null');

// 7. Nothing of the web loader may survive.
for (const [re, what] of [
  [/import\.meta/, 'import.meta'],
  [/(^|[^\w$])WebAssembly\./, 'WebAssembly.'],
  [/(^|[^\w$])fetch\(/, 'fetch('],
  [/BigInt\(/, 'BigInt('],
]) {
  if (re.test(src)) fail(`${what} is still present after patching`);
}

const all = [...names, '__wbg_get_imports', '__wbg_finalize_init'];
const header =
  mode === 'cjs'
    ? '"use strict";\n' +
      '// Generated from wasm-bindgen output by js/tools/patch-mp-glue.mjs: mini-program flavour (CommonJS).\n' +
      "const { TextEncoder, TextDecoder } = require('../../mp/text-codec.js');\n"
    : '// Generated from wasm-bindgen output by js/tools/patch-mp-glue.mjs: mini-program flavour (ESM).\n' +
      "import { TextEncoder, TextDecoder } from '../../mp/text-codec.js';\n";
const footer =
  mode === 'cjs'
    ? '\nmodule.exports = {\n' + all.map((n) => `  ${n},\n`).join('') + '};\n'
    : `\nexport { ${all.join(', ')} };\n`;
writeFileSync(output, header + src + footer);
console.log(`patch-mp-glue: ${names.length} functions → ${output}`);
