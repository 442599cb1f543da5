// Assembles the npm package in js/dist/pkg from the tsc output (js/build), the generated
// glue and wasm (js/src/wasm) and pkg-template/.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { copyLicenses } from './licenses.mjs';

const js = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(js, '..');
const gen = join(js, 'src/wasm');
const pkg = join(js, 'dist/pkg');
rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });

const copy = (from, to, names) => {
  mkdirSync(to, { recursive: true });
  for (const n of names) {
    const src = join(from, n);
    if (!existsSync(src)) throw new Error(`assemble: missing ${src}`);
    cpSync(src, join(to, n));
  }
};

// ESM entries (web, bundler, node, slim, uniapp, vite) and their glue + wasm.
cpSync(join(js, 'build/esm'), join(pkg, 'esm'), { recursive: true });
copy(join(gen, 'web'), join(pkg, 'esm/wasm/web'), ['wxpay_wasm.js', 'wxpay_wasm.d.ts', 'wxpay_wasm_bg.wasm']);
copy(join(gen, 'w2j'), join(pkg, 'esm/wasm/w2j'), ['wxpay_wasm_w2j.js', 'wxpay_wasm_w2j.d.ts']);
copy(join(gen, 'qr'), join(pkg, 'esm/wasm/qr'), ['wxpay_qr.js', 'wxpay_qr.d.ts', 'wxpay_qr_bg.wasm']);
copy(join(gen, 'mp'), join(pkg, 'esm/wasm/mp'), ['wxpay_wasm.js', 'wxpay_wasm.d.ts', 'wxpay_wasm_bg.wasm', 'wxpay_wasm_bg.wasm.br']);

// `wxpay-client/vite` as CommonJS too: Vite bundles a project's config as CommonJS unless the
// project is "type": "module" (DCloud's uni-app template is not), and then refuses ESM imports.
// `import.meta.url` becomes the file's own URL; `require()` returns the plugin factory itself.
const { transformSync } = await import('esbuild');
const vitePlugin = join(pkg, 'esm/entries/vite-plugin');
const cjs = transformSync(readFileSync(`${vitePlugin}.js`, 'utf8'), {
  format: 'cjs',
  platform: 'node',
  target: 'node18',
  define: { 'import.meta.url': '__wxpayModuleUrl' },
  banner: "const __wxpayModuleUrl = require('node:url').pathToFileURL(__filename).href;",
  footer: 'module.exports = Object.assign(module.exports.default, { default: module.exports.default, __esModule: true });',
});
writeFileSync(`${vitePlugin}.cjs`, cjs.code);

// miniprogram_dist: CommonJS, patched glue, .wasm.br only (it counts against the 2 MB package).
const mp = join(pkg, 'miniprogram_dist');
cpSync(join(js, 'build/mp'), mp, { recursive: true });
copy(join(gen, 'mp-cjs'), join(mp, 'wasm/mp-cjs'), ['wxpay_wasm.js', 'wxpay_wasm.d.ts']);
copy(join(gen, 'mp'), mp, ['wxpay_wasm_bg.wasm.br']);
writeFileSync(join(mp, 'index.js'), "\"use strict\";\nmodule.exports = require('./entries/miniprogram.js');\n");
writeFileSync(join(mp, 'index.d.ts'), "export * from './entries/miniprogram.js';\n");
// The package is "type": "module"; this folder is CommonJS for Node too (tests, SSR tooling).
writeFileSync(join(mp, 'package.json'), JSON.stringify({ type: 'commonjs' }, null, 2) + '\n');

// package.json and README from the template, version from the crate.
const crateToml = readFileSync(join(root, 'crates/wxpay-wasm/Cargo.toml'), 'utf8');
const version = /^version = "([^"]+)"/m.exec(crateToml)?.[1];
if (!version) throw new Error('assemble: no version in crates/wxpay-wasm/Cargo.toml');
const manifest = JSON.parse(readFileSync(join(root, 'pkg-template/package.json'), 'utf8'));
manifest.version = version;
writeFileSync(join(pkg, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
cpSync(join(root, 'pkg-template/README.md'), join(pkg, 'README.md'));
// LICENSE-MIT and LICENSE-APACHE from the repository root; a missing one stops the build.
copyLicenses(root, pkg, manifest.license);
console.log(`assembled ${manifest.name}@${version} in ${pkg}`);
