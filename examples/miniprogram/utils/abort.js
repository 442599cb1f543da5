// An AbortController where the runtime has one; otherwise a minimal stand-in with the part
// of AbortSignal the package uses (`aborted`, add/removeEventListener('abort')): the
// package's `AbortSignalLike`. Not every mini-program base library exposes AbortController in
// the logic layer, and a mini-program project has no DOM typings for it either.

/** @typedef {import('wxpay-client').AbortSignalLike} AbortSignalLike */
/** @typedef {{ readonly signal: AbortSignalLike, abort(): void }} Abort */

/** @returns {Abort} */
function createAbort() {
  const Native = /** @type {{ AbortController?: new () => Abort }} */ (/** @type {unknown} */ (globalThis)).AbortController;
  if (typeof Native === 'function') return new Native();
  /** @type {Set<() => void>} */
  const listeners = new Set();
  const signal = {
    aborted: false,
    /** @param {string} type @param {() => void} fn */
    addEventListener(type, fn) {
      if (type === 'abort') listeners.add(fn);
    },
    /** @param {string} type @param {() => void} fn */
    removeEventListener(type, fn) {
      listeners.delete(fn);
    },
  };
  return {
    signal,
    abort() {
      if (signal.aborted) return;
      signal.aborted = true;
      listeners.forEach((fn) => fn());
      listeners.clear();
    },
  };
}

module.exports = { createAbort };
