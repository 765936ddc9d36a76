// The gateway's fleet view in Debian's headless Chromium.
//
// Environment: GATEWAY_URL (e.g. http://127.0.0.1:8080/), OPERATOR_TOKEN, SCREENSHOT_DIR,
// INSTRUMENTS (ids, comma-separated). Exits non-zero with a message on the first failure; every
// wait is bounded.
//
//   the page connects to the gateway, lists every instrument idle in its fleet list, and opens
//   one instrument's dashboard on a click.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const WAIT_MS = 30_000;

function fail(message) {
  console.error(`gateway test FAILED: ${message}`);
  process.exit(1);
}

function env(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
}

const url = new URL(env('GATEWAY_URL'));
url.searchParams.set('token', env('OPERATOR_TOKEN'));
const shots = env('SCREENSHOT_DIR');
const ids = env('INSTRUMENTS').split(',');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) fail(`${chromiumPath} is missing (apt-get install chromium, or run .ci/run)`);
fs.mkdirSync(shots, { recursive: true });

let step = 'starting';
const log = (s) => {
  step = s;
  console.log(`- ${s}`);
};

const fleet = (page) => page.evaluate(() => [...document.querySelectorAll('#fleet-list button[data-instrument]')]
  .map((b) => ({ id: b.dataset.instrument, state: b.querySelector('.fstate')?.textContent.trim() })));

async function waitFor(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
  } catch (e) {
    const seen = await fleet(page).catch(() => []);
    throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for ${what} (fleet: ${JSON.stringify(seen)})`);
  }
}

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ohmpi-chromium-'));
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: WAIT_MS,
  });
  const errors = [];
  try {
    const page = browser.pages()[0] || (await browser.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));

    log('the page connects to the gateway');
    await page.goto(url.toString(), { waitUntil: 'load', timeout: WAIT_MS });
    await waitFor(page, 'the connection (hello) with the operator role',
      () => document.querySelector('#conn')?.dataset.state === 'connected'
        && /operator/.test(document.querySelector('#role')?.textContent || ''));

    log(`the fleet list shows ${ids.join(', ')}, idle`);
    await waitFor(page, 'every instrument, idle, in the fleet list', (want) => {
      const f = document.querySelector('#fleet');
      if (!f || f.hidden) return false;
      const shown = [...document.querySelectorAll('#fleet-list button[data-instrument]')];
      return shown.length === want.length && want.every((id) => shown.some((b) => b.dataset.instrument === id
        && b.querySelector('.fstate')?.textContent.trim() === 'idle'));
    }, ids);
    console.log(`  fleet: ${JSON.stringify(await fleet(page))}`);
    await page.screenshot({ path: path.join(shots, 'gateway-fleet.png'), fullPage: true });

    const id = ids[ids.length - 1];
    log(`a click opens ${id}'s dashboard`);
    await page.click(`#fleet-list button[data-instrument="${id}"]`);
    await waitFor(page, `${id}'s dashboard, idle`, (want) => !document.querySelector('#dashboard').hidden
      && document.querySelector('#instrument-name').textContent.includes(want)
      && document.querySelector('#state').textContent.trim() === 'idle', id);

    if (errors.length) throw new Error(`the page reported errors:\n  ${errors.join('\n  ')}`);
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(`gateway test passed; screenshot in ${shots}`);
}

const guard = setTimeout(() => fail(`the whole test took over 3 minutes (at: ${step})`), 180_000);
guard.unref();
main().catch((e) => fail(`${step}: ${e.message}`));
