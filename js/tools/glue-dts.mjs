// Declarations for the patched mini-program glue: the generated function declarations of
// wasm-bindgen's d.ts, without its web loader types, plus the two internals our loader uses.
// usage: node glue-dts.mjs <bindgen.d.ts> <out.d.ts>
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output] = process.argv.slice(2);
const src = readFileSync(input, 'utf8');
const cut = src.indexOf('\nexport type InitInput');
if (cut < 0) {
  console.error('glue-dts: `export type InitInput` not found in the wasm-bindgen d.ts');
  process.exit(1);
}
writeFileSync(
  output,
  src.slice(0, cut) +
    '\n/** Import object for WXWebAssembly.instantiate. */\n' +
    'export function __wbg_get_imports(): Record<string, unknown>;\n' +
    '/** Wires the instance into the glue (accepts what WXWebAssembly.instantiate resolved with). */\n' +
    'export function __wbg_finalize_init(instance: unknown, module: unknown): unknown;\n',
);
