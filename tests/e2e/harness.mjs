// Shared pieces of the end-to-end tests: start the wxpay-server demo (--demo: the
// simulator runs in-process), launch the system Chromium, open pages as a given kind of
// browser, and run named steps that leave a screenshot each and print the page's console
// when they fail.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ARTIFACTS = join(ROOT, 'tests/artifacts');

export const UA = {
  // Safari on an iPhone: "another mobile browser" → H5 redirect to WeChat's cashier.
  mobile:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  // WeChat's in-app browser on an iPhone → JSAPI (WeixinJSBridge) or the JS-SDK.
  wechat:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN',
  // Chrome on a Linux desktop → Native QR code.
  desktop:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};

const START_TIMEOUT_MS = 60_000;

/**
 * Starts the server binary on port 0 with a fresh SQLite file, serving examples/h5/dist.
 * Resolves with its URL, the embedded simulator's URL and `stop()`.
 */
export async function startServer({ env = {} } = {}) {
  const bin = process.env.E2E_SERVER_BIN ?? join(ROOT, 'target/debug/wxpay-server');
  const dir = await mkdtemp(join(tmpdir(), 'wxpay-e2e-'));
  // Every WXPAY_* variable is read as a configuration key (and unknown keys are refused),
  // so the caller's (e.g. WXPAY_TOOLS from the test scripts) must not leak through.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WXPAY_')));
  // The demo (embedded simulator, demo login, demo admin token) runs only when asked for.
  const child = spawn(bin, ['--demo'], {
    cwd: dir,
    env: {
      ...base,
      RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn',
      WXPAY_SERVER__HOST: '127.0.0.1',
      WXPAY_SERVER__PORT: '0',
      WXPAY_SERVER__STATIC_DIR: join(ROOT, 'examples/h5/dist'),
      WXPAY_DATABASE__URL: `sqlite://${join(dir, 'e2e.db')}`,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  let exited = false;
  const exit = new Promise((res) => child.once('exit', (code, signal) => {
    exited = true;
    res({ code, signal });
  }));
  const urls = await new Promise((res, rej) => {
    const found = {};
    const timer = setTimeout(() => rej(new Error(`server did not start in ${START_TIMEOUT_MS} ms:\n${log.join('')}`)), START_TIMEOUT_MS);
    const onData = (chunk) => {
      const text = chunk.toString();
      log.push(text);
      const s = text.match(/listening on (http:\/\/\S+)/);
      if (s) found.url = s[1];
      const m = text.match(/wxpay-sim.* on (http:\/\/\S+)/);
      if (m) found.simUrl = m[1];
      if (found.url && found.simUrl) {
        clearTimeout(timer);
        res(found);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => log.push(c.toString()));
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`server exited (${code ?? signal}) before it listened:\n${log.join('')}`));
    });
  }).catch(async (e) => {
    if (!exited) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  });

  const sim = async (method, path, body) => {
    const res = await fetch(`${urls.simUrl}/__sim${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${method} ${path}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  return {
    ...urls,
    log,
    sim,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exit;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The system Chromium, headless; never a downloaded browser. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/**
 * Opens a page as `kind` (`mobile`, `wechat`, `desktop`) in a fresh context (own storage, so
 * its own demo user). Requests to hosts other than the local ones are refused: the tests run
 * offline. Returns `{ page, context, step, logs }`.
 */
export async function openPage(browser, { name, kind, initScript }) {
  const mobile = kind !== 'desktop';
  const context = await browser.newContext({
    userAgent: UA[kind],
    viewport: mobile ? { width: 390, height: 800 } : { width: 1200, height: 800 },
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'zh-CN',
  });
  context.setDefaultTimeout(20_000);
  context.setDefaultNavigationTimeout(20_000);
  await context.route(
    (url) => url.hostname !== '127.0.0.1' && url.hostname !== 'localhost',
    (route) => route.abort('blockedbyclient'),
  );
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
  page.on('requestfailed', (r) => logs.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) logs.push(`[navigated] ${f.url()}`);
  });
  await mkdir(ARTIFACTS, { recursive: true });
  let n = 0;
  const timings = [];
  /** Runs one step; screenshot after it; on failure the page's console goes to stderr. */
  const step = async (label, fn) => {
    n += 1;
    const file = join(ARTIFACTS, `${name}-${String(n).padStart(2, '0')}-${slug(label)}`);
    const t0 = Date.now();
    try {
      const out = await fn();
      await page.screenshot({ path: `${file}.png`, fullPage: true });
      timings.push([label, Date.now() - t0]);
      return out;
    } catch (e) {
      await page.screenshot({ path: `${file}-FAILED.png`, fullPage: true }).catch(() => undefined);
      console.error(`\n✗ ${name}: step "${label}" failed after ${Date.now() - t0} ms at ${page.url()}`);
      console.error(`  page console and events:\n    ${logs.join('\n    ') || '(nothing)'}`);
      throw e;
    }
  };
  const close = async () => {
    console.log(`  ${name}: ${timings.map(([l, ms]) => `${l} ${ms}ms`).join(' · ')}`);
    await context.close().catch(() => undefined);
  };
  return { page, context, step, logs, close };
}

/** From the product list, buys `product` and lands on the order page; returns the order id. */
export async function buy(page, baseUrl, product = 'coffee') {
  await page.goto(`${baseUrl}/`);
  await page.click(`button[data-product="${product}"]`);
  await page.waitForSelector('#order-id');
  return (await page.textContent('#order-id')).trim();
}

/** Waits for the result page to say `state` (`paid`, `not-paid`, `refunded`, …). */
export async function expectStatus(page, state, timeout = 30_000) {
  await page.waitForSelector(`#status[data-state="${state}"]`, { timeout });
}

/** The simulator's notification deliveries concerning `outTradeNo`. */
export async function deliveriesFor(server, outTradeNo) {
  const all = await server.sim('GET', '/notifications');
  const list = Array.isArray(all) ? all : (all.notifications ?? all.deliveries ?? []);
  return list.filter((d) => d.out_trade_no === outTradeNo);
}
