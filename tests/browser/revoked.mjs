// The dashboard in Debian's headless Chromium when its token is revoked while it is open: the
// page says why the server closed the connection ("token revoked"), offers the login again,
// and does not retry with the dead token.
//
// Environment: DASHBOARD_URL, OPERATOR_TOKEN, OHMPI (the binary), OHMPI_CONFIG (whose tokens
// file holds the token, id 1), SCREENSHOT_DIR. Exits non-zero with a message on the first
// failure; every wait is bounded.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const WAIT_MS = 30_000;

function fail(message) {
  console.error(`revoked-token test FAILED: ${message}`);
  process.exit(1);
}

function env(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
}

const url = new URL(env('DASHBOARD_URL'));
url.searchParams.set('token', env('OPERATOR_TOKEN'));
const ohmpi = env('OHMPI');
const config = env('OHMPI_CONFIG');
const shots = env('SCREENSHOT_DIR');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(shots, { recursive: true });

const conn = (page) => page.evaluate(() => ({
  state: document.querySelector('#conn')?.dataset.state,
  text: document.querySelector('#conn')?.textContent,
  message: document.querySelector('#message')?.textContent,
  login: !document.querySelector('#login')?.hidden,
}));

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ohmpi-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: WAIT_MS,
  });
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    const opened = [];
    page.on('websocket', (ws) => opened.push(ws.url()));
    await page.goto(url.toString(), { waitUntil: 'load', timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'connected',
      null, { timeout: WAIT_MS, polling: 100 });
    console.log('- connected; revoking the token');
    execFileSync(ohmpi, ['--config', config, 'token', 'revoke', '1']);
    try {
      await page.waitForFunction(() => /token revoked/.test(document.querySelector('#conn')?.textContent || ''),
        null, { timeout: 5000, polling: 50 });
    } catch {
      throw new Error(`the page does not say why it was closed: ${JSON.stringify(await conn(page))}`);
    }
    const c = await conn(page);
    console.log(`  status: ${c.text}\n  message: ${c.message}`);
    if (c.state !== 'unauthorized') throw new Error(`state ${c.state}, expected unauthorized`);
    if (!/token revoked/.test(c.message || '')) throw new Error(`message: ${c.message}`);
    if (!c.login) throw new Error('the login form is not offered');
    await page.screenshot({ path: path.join(shots, 'dashboard-revoked.png'), fullPage: false });
    // No retry with the revoked token (the first reconnection would come after 1 s).
    const before = opened.length;
    await page.waitForTimeout(2500);
    if (opened.length !== before) throw new Error(`${opened.length - before} reconnections with the revoked token`);
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log('revoked-token test passed');
}

const guard = setTimeout(() => fail('the test took over 2 minutes'), 120_000);
guard.unref();
main().catch((e) => fail(e.message));
