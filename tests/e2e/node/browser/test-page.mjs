// Shared set-up of the browser suites that drive page.html with livekit-client: the mandatory
// Chromium flags (every host name resolves to NOTFOUND except the loopback and the servers' test
// address; fake camera and microphone) and a static server for page.html and livekit-client's
// UMD build; the axe-core check the web-client suites run on every page.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { HOST } from '../xcord-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const umdPath = path.join(here, '../node_modules/livekit-client/dist/livekit-client.umd.js');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE ${HOST}`,
  '--autoplay-policy=no-user-gesture-required',
];

/** Headless Chromium with the mandatory flags and any `extraFlags`. */
export function launchChromium(extraFlags = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, ...extraFlags],
    timeout: 30000,
  });
}

/** Serves page.html and livekit-client on a loopback port: `{ baseUrl, close() }`. */
export async function servePage() {
  const files = {
    '/page.html': ['text/html', path.join(here, 'page.html')],
    '/livekit-client.umd.js': ['application/javascript', umdPath],
  };
  const server = http.createServer((req, res) => {
    const f = files[new globalThis.URL(req.url, 'http://x').pathname];
    if (!f) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-store' });
    res.end(readFileSync(f[1]));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { baseUrl: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** axe-core on the page as it is: no serious or critical violation. */
export async function checkAxe(page, what) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `axe on ${what}`);
}

/**
 * A page of `page.html` in a browser context of its own, its console and page errors collected
 * in `logs[who]`; `initScript` runs before the page's own scripts (e.g. to rewrite its SDP).
 */
export async function openPage(browser, baseUrl, who, logs, { initScript = null } = {}) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  logs[who] = [];
  page.on('console', (m) => logs[who].push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => logs[who].push(`[pageerror] ${e.message}`));
  if (initScript) await page.addInitScript(initScript);
  await page.goto(`${baseUrl}/page.html`, { timeout: 15000 });
  return page;
}
