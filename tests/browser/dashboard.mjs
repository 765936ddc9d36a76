// End-to-end test of the dashboard in Debian's headless Chromium.
//
// Environment: DASHBOARD_URL (e.g. http://127.0.0.1:8080/), OPERATOR_TOKEN, VIEWER_TOKEN,
// SCREENSHOT_DIR. Exits non-zero with a message on the first failure; every wait is bounded.
//
//   as operator: the page connects (hello: role shown), Start, the progress bar and the
//   pseudo-section's point count grow as records arrive, Stop, the state returns to idle;
//   as viewer: Start is refused with a visible "Not permitted" message;
//   screenshots of the desktop and of a 390×844 phone viewport.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const WAIT_MS = 30_000;

function env(name) {
  const v = process.env[name];
  if (!v) fail(`environment variable ${name} is not set`);
  return v;
}

function fail(message) {
  console.error(`dashboard test FAILED: ${message}`);
  process.exit(1);
}

const url = env('DASHBOARD_URL');
const operatorToken = env('OPERATOR_TOKEN');
const viewerToken = env('VIEWER_TOKEN');
const shots = env('SCREENSHOT_DIR');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromiumPath)) fail(`${chromiumPath} is missing (apt-get install chromium, or run .ci/run)`);
fs.mkdirSync(shots, { recursive: true });

const withToken = (token) => {
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
};

let step = 'starting';
const log = (s) => {
  step = s;
  console.log(`- ${s}`);
};

async function waitFor(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
  } catch (e) {
    const state = await page.evaluate(() => ({
      conn: document.querySelector('#conn')?.textContent,
      state: document.querySelector('#state')?.textContent,
      message: document.querySelector('#message')?.textContent,
      points: document.querySelector('#pseudosection')?.dataset.points,
    })).catch(() => ({}));
    throw new Error(`timed out after ${WAIT_MS / 1000} s waiting for ${what} (page: ${JSON.stringify(state)})`);
  }
}

const readState = (page) => page.evaluate(() => ({
  state: document.querySelector('#state').textContent.trim(),
  done: Number(document.querySelector('#progress').getAttribute('aria-valuenow') || 0),
  value: Number(document.querySelector('#progress').value || 0),
  points: Number(document.querySelector('#pseudosection').dataset.points || 0),
}));

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
    // ------------------------------------------------------------ operator
    const page = browser.pages()[0] || (await browser.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/favicon/.test(m.location()?.url || '')) errors.push(`console: ${m.text()}`);
    });

    log('operator: the page loads and connects');
    await page.goto(withToken(operatorToken), { waitUntil: 'load', timeout: WAIT_MS });
    await waitFor(page, 'the connection (hello) with the operator role',
      () => document.querySelector('#conn')?.dataset.state === 'connected'
        && /operator/.test(document.querySelector('#role')?.textContent || ''));
    await waitFor(page, 'the instrument to be idle',
      () => document.querySelector('#state')?.textContent.trim() === 'idle');

    log('operator: a setting out of range is shown next to its field');
    await page.fill('#set-nb_stack', '5000');
    await page.click('#settings button[type=submit]');
    await waitFor(page, 'the error next to the stacks field',
      () => (document.querySelector('.field-error[data-for="nb_stack"]')?.textContent || '').length > 0);
    console.log(`  nb_stack: ${await page.locator('.field-error[data-for="nb_stack"]').textContent()}`);
    await page.fill('#set-nb_stack', '2');
    await page.click('#settings button[type=submit]');
    await waitFor(page, 'the settings to be applied', () => /Settings applied/.test(document.querySelector('#message').textContent));

    log('operator: generate a dipole-dipole sequence');
    await page.fill('#seq-generate input[name=nelec]', '32');
    await page.selectOption('#seq-generate select[name=array]', 'dpdp');
    await page.fill('#seq-generate input[name=a]', '1');
    await page.fill('#seq-generate input[name=n]', '8');
    await page.click('#seq-generate button[type=submit]');
    await waitFor(page, 'the generated sequence', () => /Generated and loaded/.test(document.querySelector('#seq-count').textContent));
    console.log(`  ${await page.locator('#seq-count').textContent()}`);

    log('operator: Start, records arrive');
    const before = await readState(page);
    await page.click('#btn-start');
    await waitFor(page, 'the state to be running', () => document.querySelector('#state').textContent.trim() === 'running');
    await waitFor(page, 'the progress bar to move',
      () => Number(document.querySelector('#progress').getAttribute('aria-valuenow')) >= 2);
    await waitFor(page, 'the pseudo-section to show points',
      (p0) => Number(document.querySelector('#pseudosection').dataset.points) >= p0 + 2, before.points);
    const first = await readState(page);
    await waitFor(page, 'the progress and the point count to grow further',
      (f) => Number(document.querySelector('#progress').getAttribute('aria-valuenow')) > f.done
        && Number(document.querySelector('#pseudosection').dataset.points) > f.points, first);
    const second = await readState(page);
    console.log(`  progress ${first.done} → ${second.done}, points ${first.points} → ${second.points}`);
    const rows = await page.locator('#records tbody tr').count();
    if (rows < 2) throw new Error(`the records table has ${rows} rows while records arrive`);
    await page.screenshot({ path: path.join(shots, 'dashboard-desktop-running.png'), fullPage: true });

    log('operator: Stop, the state returns to idle');
    await page.click('#btn-stop');
    await waitFor(page, 'the state to return to idle', () => document.querySelector('#state').textContent.trim() === 'idle');
    await page.screenshot({ path: path.join(shots, 'dashboard-desktop.png'), fullPage: true });

    log('phone viewport: 390×844, no horizontal scrolling');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(400);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.screenshot({ path: path.join(shots, 'dashboard-phone.png'), fullPage: false });
    await page.screenshot({ path: path.join(shots, 'dashboard-phone-full.png'), fullPage: true });
    if (overflow > 0) throw new Error(`the page scrolls horizontally by ${overflow} px at 390 px`);
    await page.close();

    // ------------------------------------------------------------ viewer
    log('viewer: Start is not permitted');
    const viewer = await browser.newPage();
    viewer.setDefaultTimeout(WAIT_MS);
    viewer.on('pageerror', (e) => errors.push(`viewer page error: ${e.message}`));
    await viewer.goto(withToken(viewerToken), { waitUntil: 'load', timeout: WAIT_MS });
    await waitFor(viewer, 'the connection with the viewer role',
      () => document.querySelector('#conn')?.dataset.state === 'connected'
        && /viewer/.test(document.querySelector('#role')?.textContent || ''));
    await waitFor(viewer, 'the instrument to be idle', () => document.querySelector('#state').textContent.trim() === 'idle');
    await viewer.click('#btn-start');
    await waitFor(viewer, 'a visible "Not permitted" message',
      () => {
        const m = document.querySelector('#message');
        return m && !m.hidden && m.offsetParent !== null && /not permitted/i.test(m.textContent);
      });
    console.log(`  message: ${await viewer.locator('#message').textContent()}`);
    const s = await readState(viewer);
    if (s.state !== 'idle') throw new Error(`the viewer's Start changed the state to ${s.state}`);
    await viewer.screenshot({ path: path.join(shots, 'dashboard-viewer.png'), fullPage: false });

    if (errors.length) throw new Error(`the page reported errors:\n  ${errors.join('\n  ')}`);
  } finally {
    await browser.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(`dashboard test passed; screenshots in ${shots}`);
}

const guard = setTimeout(() => fail(`the whole test took over 5 minutes (at: ${step})`), 300_000);
guard.unref();
main().catch((e) => fail(`${step}: ${e.message}`));
