// The merchant server (wxpay-server). In production: your HTTPS domain, added to the
// mini-program's "request 合法域名". For the local demo (devtools with "不校验合法域名"):
// the URL `scripts/run.sh` prints.
const BASE_URL = 'http://127.0.0.1:8080';

App({
  globalData: { baseUrl: BASE_URL },
});
