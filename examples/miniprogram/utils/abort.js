// An AbortController where the runtime has one; otherwise a minimal stand-in with the part
// of AbortSignal the package uses (`aborted`, add/removeEventListener('abort')). Not every
// mini-program base library exposes AbortController in the logic layer.
function createAbort() {
  if (typeof AbortController === 'function') return new AbortController();
  const listeners = new Set();
  const signal = {
    aborted: false,
    addEventListener(type, fn) {
      if (type === 'abort') listeners.add(fn);
    },
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
