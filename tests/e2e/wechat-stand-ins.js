// Stand-ins for what WeChat's browser gives a page: `WeixinJSBridge` (injected after the
// page starts, announced with `WeixinJSBridgeReady`) and the JS-SDK's `wx` (as jweixin
// defines it). Each call goes to the test through `window.__wxSim`, which plays WeChat with
// the simulator's client endpoints: they check the bundle and its signature as WeChat does,
// then pay or cancel as the payer chose. Injected with `context.addInitScript`.
(() => {
  const call = (kind, payload) => window.__wxSim(kind, JSON.parse(JSON.stringify(payload)));

  const bridge = {
    invoke(name, params, cb) {
      call(`bridge:${name}`, params).then(cb, (e) => cb({ err_msg: `${name}:fail ${e}` }));
    },
  };
  const inject = () =>
    setTimeout(() => {
      window.WeixinJSBridge = bridge;
      document.dispatchEvent(new Event('WeixinJSBridgeReady'));
    }, 30);
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', inject);
  else inject();

  let configured = false;
  const ready = [];
  const errors = [];
  window.wx = {
    config(options) {
      // WeChat checks the signature against the URL it loaded; the page cannot choose it.
      call('jssdk:config', { ...options, url: location.href }).then((r) => {
        if (r.errMsg === 'config:ok') {
          configured = true;
          ready.splice(0).forEach((f) => f());
        } else {
          errors.forEach((f) => f(r));
        }
      });
    },
    ready(cb) {
      if (configured) cb();
      else ready.push(cb);
    },
    error(cb) {
      errors.push(cb);
    },
    chooseWXPay(options) {
      const { success, fail, cancel, complete, trigger, ...params } = options;
      call('jssdk:chooseWXPay', params).then((r) => {
        if (r.errMsg === 'chooseWXPay:ok') success?.(r);
        else if (r.errMsg === 'chooseWXPay:cancel') cancel?.(r);
        else fail?.(r);
        complete?.(r);
      });
    },
  };
})();
