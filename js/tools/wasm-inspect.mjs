// Reads a .wasm binary and reports what the mini-program runtime cares about:
// the target_features custom section, exported globals, and signature-level use of
// multi-value results and reference types. Exits 1 with --mp when the module breaks the
// mini-program rules (iOS WeChat rejects reference-types / multivalue and exported globals).
//
// usage: node wasm-inspect.mjs <file.wasm|file.wasm.br> [--mp] [--json]
import { readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const mp = args.includes('--mp');
if (!file) {
  console.error('usage: wasm-inspect.mjs <file.wasm> [--mp] [--json]');
  process.exit(2);
}
const buf = file.endsWith('.br') ? brotliDecompressSync(readFileSync(file)) : readFileSync(file);

function inspect(bytes) {
  let pos = 0;
  const u8 = () => bytes[pos++];
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = u8();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
    }
  };
  const name = () => {
    const len = leb();
    const s = bytes.subarray(pos, pos + len).toString('utf8');
    pos += len;
    return s;
  };
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  pos = 8;
  const report = {
    features: null,
    exports: [],
    exportedGlobals: [],
    multiValueTypes: 0,
    refTypesInSignatures: 0,
    tables: 0,
    externrefTables: 0,
  };
  const REF = new Set([0x6f, 0x70]);
  while (pos < bytes.length) {
    const id = u8();
    const size = leb();
    const end = pos + size;
    if (id === 0) {
      const secName = name();
      if (secName === 'target_features') {
        const n = leb();
        report.features = [];
        for (let i = 0; i < n; i++) {
          const prefix = String.fromCharCode(u8());
          report.features.push(prefix + name());
        }
      }
    } else if (id === 1) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const form = u8();
        if (form !== 0x60) throw new Error(`type form 0x${form.toString(16)} not handled`);
        const np = leb();
        for (let j = 0; j < np; j++) if (REF.has(u8())) report.refTypesInSignatures++;
        const nr = leb();
        if (nr > 1) report.multiValueTypes++;
        for (let j = 0; j < nr; j++) if (REF.has(u8())) report.refTypesInSignatures++;
      }
    } else if (id === 4) {
      const n = leb();
      report.tables += n;
      for (let i = 0; i < n; i++) {
        const t = u8();
        if (t === 0x6f) report.externrefTables++;
        const flags = leb();
        leb();
        if (flags & 1) leb();
      }
    } else if (id === 7) {
      const n = leb();
      for (let i = 0; i < n; i++) {
        const nm = name();
        const kind = u8();
        leb();
        const k = ['func', 'table', 'memory', 'global', 'tag'][kind] ?? `kind${kind}`;
        report.exports.push(`${k}:${nm}`);
        if (kind === 3) report.exportedGlobals.push(nm);
      }
    }
    pos = end;
  }
  return report;
}

const r = inspect(buf);
const problems = [];
if (mp) {
  const bad = (r.features ?? []).filter((f) => /^\+(reference-types|multivalue)$/.test(f));
  if (bad.length) problems.push(`target_features enables ${bad.join(', ')}`);
  if (r.exportedGlobals.length) problems.push(`exports globals: ${r.exportedGlobals.join(', ')}`);
  if (r.multiValueTypes) problems.push(`${r.multiValueTypes} function types return several values (multivalue)`);
  if (r.refTypesInSignatures) problems.push(`${r.refTypesInSignatures} reference-typed params/results (reference-types)`);
  if (r.externrefTables || r.tables > 1) problems.push(`${r.tables} tables, ${r.externrefTables} externref (reference-types)`);
}
if (args.includes('--json')) {
  console.log(JSON.stringify({ ...r, problems }, null, 2));
} else {
  console.log(`${file}: features [${(r.features ?? ['(no target_features section)']).join(' ')}]`);
  console.log(`  exports: ${r.exports.length} (${r.exportedGlobals.length} globals), tables: ${r.tables}, multivalue types: ${r.multiValueTypes}`);
}
if (problems.length) {
  for (const p of problems) console.error(`  MINI-PROGRAM RULE BROKEN: ${p}`);
  process.exit(1);
}
