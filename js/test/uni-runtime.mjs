// Shared pieces of the simulated uni-app runtimes: a `uni` object whose `request` goes over
// real HTTP and whose `requestPayment` is scripted.
import { request as httpRequest } from 'node:http';

export function makeUni(platform) {
  const uni = {
    payCalls: [],
    payScript: () => ({ cb: 'success', res: { errMsg: 'requestPayment:ok' } }),
    showHandlers: new Set(),
    getSystemInfoSync: () => ({ uniPlatform: platform }),
    requestPayment(o) {
      uni.payCalls.push(o);
      const { cb, res } = uni.payScript(o);
      setTimeout(() => o[cb](res), 1);
    },
    request(o) {
      const u = o.url.match(/^http:\/\/([^/:]+):(\d+)(\/.*)$/);
      if (!u) return setTimeout(() => o.fail({ errMsg: 'request:fail invalid url' }), 0);
      const req = httpRequest({ host: u[1], port: Number(u[2]), path: u[3], method: o.method, headers: o.header }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => o.success({ statusCode: res.statusCode, data }));
      });
      req.on('error', (e) => o.fail({ errMsg: `request:fail ${e.message}` }));
      if (o.data !== undefined) req.write(o.data);
      req.end();
      return { abort: () => req.destroy() };
    },
    onAppShow: (h) => uni.showHandlers.add(h),
    offAppShow: (h) => uni.showHandlers.delete(h),
  };
  return uni;
}

/** An APP bundle as wxpay-server signs it (all lower-case keys, `package=Sign=WXPay`). */
export function appBundle() {
  return {
    appid: 'wxd930ea5d5a258f4f',
    partnerid: '1900000109',
    prepayid: 'wx201410272009395522657a690389285100',
    package: 'Sign=WXPay',
    noncestr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
    timestamp: '1700000000',
    sign: Buffer.alloc(256, 9).toString('base64'),
  };
}
