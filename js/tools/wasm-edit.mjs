// One surgical edit of a wasm-bindgen output module for the mini-program flavour.
//
// (The other edit this tool used to make, dropping reference-types / multi-value from the
// `target_features` section, is now done by the linker: scripts/wasm-pack-build.sh passes it
// the exact feature list, so wasm-pack can run wasm-bindgen straight after cargo.)
//
// --drop-global-exports: removes every *global* export. wasm-bindgen 0.2.130's runtime has
// two `#[no_mangle]` statics (`__instance_terminated`, `__abort_handler`) that the linker
// exports; the glue of a panic=abort build never reads them, but iOS WeChat refuses modules
// that export globals ("iOS 平台暂不支持 Global"). Only the export entries go; the globals stay.
// The build fails if the glue mentions a dropped name.
//
// usage: node wasm-edit.mjs <in.wasm> <out.wasm> --drop-global-exports [--glue file.js]
import { readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const [input, output] = argv;
let dropGlobals = false;
let glue;
for (let i = 2; i < argv.length; i++) {
  if (argv[i] === '--drop-global-exports') dropGlobals = true;
  else if (argv[i] === '--glue') glue = argv[++i];
  else {
    console.error(`wasm-edit: unknown argument ${argv[i]}`);
    process.exit(2);
  }
}
if (!input || !output || !dropGlobals) {
  console.error('usage: wasm-edit.mjs <in.wasm> <out.wasm> --drop-global-exports [--glue file.js]');
  process.exit(2);
}
const bytes = readFileSync(input);
const leb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
};
let pos = 8;
const readLeb = () => {
  let r = 0;
  let s = 0;
  for (;;) {
    const b = bytes[pos++];
    r += (b & 0x7f) * 2 ** s;
    s += 7;
    if (!(b & 0x80)) return r;
  }
};
const parts = [bytes.subarray(0, 8)];
const droppedExports = [];
while (pos < bytes.length) {
  const start = pos;
  const id = bytes[pos++];
  const size = readLeb();
  const end = pos + size;
  if (id === 7) {
    const n = readLeb();
    const keep = [];
    for (let i = 0; i < n; i++) {
      const entryStart = pos;
      const nameLen = readLeb();
      const name = bytes.subarray(pos, pos + nameLen).toString('utf8');
      pos += nameLen;
      const kind = bytes[pos++];
      readLeb();
      if (kind === 3) droppedExports.push(name);
      else keep.push(bytes.subarray(entryStart, pos));
    }
    const body = Buffer.concat([leb(keep.length), ...keep]);
    parts.push(Buffer.from([7]), leb(body.length), body);
    pos = end;
    continue;
  }
  parts.push(bytes.subarray(start, end));
  pos = end;
}
if (glue) {
  const text = readFileSync(glue, 'utf8');
  const used = droppedExports.filter((n) => text.includes(n));
  if (used.length) {
    console.error(`wasm-edit: the glue uses dropped global exports: ${used.join(', ')}`);
    process.exit(1);
  }
}
writeFileSync(output, Buffer.concat(parts));
console.log(`wasm-edit: global exports dropped [${droppedExports.join(' ')}]`);
