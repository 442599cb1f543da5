/**
 * Stands in for the wasm2js core in builds where `wxpay-client/vite` leaves it out
 * (mini-programs and browsers, which always have WebAssembly). Same export as the real one.
 */
export function asmFunc(): never {
  throw new Error('this runtime cannot run wasm, and wxpay-client/vite left the pure-JS core out of this build (option jsFallback)');
}
