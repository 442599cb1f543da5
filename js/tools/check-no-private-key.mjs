// "No private-key code in the wasm", checked on the modules as the Rust linker wrote them
// (js/build/raw/*.wasm), which still carry a `name` section with every function's mangled
// Rust path. (The shipped modules are name-stripped by wasm-opt, so a grep of them sees nothing.)
// Fails when a function name mentions wxpay-core's private-key module, aws-lc or a private-key
// type (rsa's RsaPrivateKey, pkcs8's EncodePrivateKey…), and also when the module has no names
// from our crates at all: then this check would be blind, not passing.
// usage: node check-no-private-key.mjs <file.wasm>...
import { readFileSync } from 'node:fs';

const PRIVATE = [/aws_lc/, /PrivateKey/, /private_key/, /4keys7private/];

/** Function names from the `name` custom section (subsection 1). */
export function functionNames(bytes) {
  let pos = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[pos++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
    }
  };
  const str = () => {
    const len = leb();
    const s = bytes.subarray(pos, pos + len).toString('utf8');
    pos += len;
    return s;
  };
  if (bytes.readUInt32LE(0) !== 0x6d736100) throw new Error('not a wasm module');
  const names = [];
  while (pos < bytes.length) {
    const id = bytes[pos++];
    const size = leb();
    const end = pos + size;
    if (id === 0 && str() === 'name') {
      while (pos < end) {
        const sub = bytes[pos++];
        const subEnd = leb() + pos;
        if (sub === 1) {
          for (let n = leb(); n > 0; n--) {
            leb(); // function index
            names.push(str());
          }
        }
        pos = subEnd;
      }
    }
    pos = end;
  }
  return names;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: check-no-private-key.mjs <file.wasm>...');
  process.exit(2);
}
let failed = false;
for (const file of files) {
  const names = functionNames(readFileSync(file));
  const ours = names.filter((n) => /wxpay_(core|wasm)/.test(n)).length;
  const bad = names.filter((n) => PRIVATE.some((re) => re.test(n)));
  if (ours === 0) {
    console.error(`PRIVATE-KEY CHECK FAILED: ${file}: no wxpay_core/wxpay_wasm function names (${names.length} names in all); the check would be blind`);
    failed = true;
  } else if (bad.length > 0) {
    console.error(`PRIVATE-KEY CHECK FAILED: ${file}: ${bad.length} private-key functions, e.g.\n  ${bad.slice(0, 5).join('\n  ')}`);
    failed = true;
  } else {
    console.log(`no private-key code: ${file} (${names.length} function names, ${ours} from wxpay_core/wxpay_wasm)`);
  }
}
process.exit(failed ? 1 : 0);
