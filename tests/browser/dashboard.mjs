// End-to-end test of the btvep dashboard in a real headless Chromium (Debian's /usr/bin/chromium).
//
// Run by scripts/browser_test.sh against a running `btvep start --devnet 2`. Environment:
//   BTVEP_URL          base URL of the server (http://127.0.0.1:PORT)
//   BTVEP_ADMIN_TOKEN  the admin token (config admin_api_key)
//   BTVEP_DEVNET_KEY   the devnet API key, used to put some traffic in the charts before the screenshots
//   SCREENSHOT_DIR     where overview.png, keys.png, key-created.png, logs.png, config.png go
//   CHROMIUM           browser binary (default /usr/bin/chromium)
// Prints one line per step, then "BROWSER TEST PASS" or "BROWSER TEST FAIL: reason" (exit 1).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const URL_ = mustEnv('BTVEP_URL');
const ADMIN = mustEnv('BTVEP_ADMIN_TOKEN');
const DEVNET_KEY = process.env.BTVEP_DEVNET_KEY || '';
const SHOTS = process.env.SCREENSHOT_DIR || 'docs/screenshots';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function mustEnv(name) {
  if (!process.env[name]) { console.log(`BROWSER TEST FAIL: ${name} is not set`); process.exit(1); }
  return process.env[name];
}

let passed = 0;
function ok(what) { passed++; console.log(`  ok ${passed} - ${what}`); }
function check(cond, what) { if (!cond) throw new Error(what); ok(what); }
const tid = id => `[data-testid="${id}"]`;
const num = text => Number(String(text).replace(/[^0-9.-]/g, ''));
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** POST /chat from Node, as a client of the gateway would. */
async function chat(key, content, extra = {}) {
  const res = await fetch(`${URL_}/chat`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ messages: [{ role: 'user', content }], ...extra }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** Polls `fn` until it returns a truthy value (clicking nothing; the page auto-refreshes or `fn` reloads). */
async function eventually(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(250);
  }
  throw new Error(`timed out waiting for: ${what}${last instanceof Error ? ' (' + last.message + ')' : ''}`);
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });

  // Some real traffic first, so every chart has data: both miners answer, one bad key is refused.
  if (DEVNET_KEY) {
    for (let i = 0; i < 6; i++) {
      const r = await chat(DEVNET_KEY, `warm-up question ${i}: what is ${i}+${i}?`, { uids: [0, 1], respond_on_first_success: false });
      if (r.status !== 200) throw new Error(`warm-up /chat with the devnet key answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
    const bad = await chat('btvep-not-a-real-key', 'refused on purpose');
    check(bad.status === 401, 'an unknown key is refused with 401');
  }

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'btvep-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
  });
  const pageErrors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', e => pageErrors.push(e.message));

    // --- sign-in: a wrong token shows the API's error, the right one opens the overview
    await page.goto(`${URL_}/dashboard`);
    await page.fill(tid('signin-token'), 'definitely-wrong');
    await page.click(tid('signin-submit'));
    await page.waitForFunction(s => document.querySelector(s)?.textContent.trim(), tid('signin-error'));
    const signinError = await page.textContent(tid('signin-error'));
    check(/invalid admin token/i.test(signinError), `a wrong token is refused visibly ("${signinError.trim()}")`);
    await page.screenshot({ path: path.join(SHOTS, 'signin.png') });
    await page.fill(tid('signin-token'), ADMIN);
    await page.click(tid('signin-submit'));
    await page.waitForSelector(tid('card-requests-value'));
    check(await page.evaluate(() => !!sessionStorage.getItem('btvep_admin_token')), 'signed in; token kept in sessionStorage');

    // --- overview shows numbers
    const before = num(await page.textContent(tid('card-requests-value')));
    check(Number.isFinite(before) && (DEVNET_KEY ? before >= 7 : before >= 0), `overview shows the request count (${before})`);
    check(await page.locator(`${tid('chart-requests')} rect`).count() > 0, 'requests-over-time chart is drawn');

    // --- create a key; the full key is shown once
    await page.click(tid('nav-keys'));
    await page.waitForSelector(tid('keys-table'));
    await page.fill(tid('create-name'), 'browser-test');
    await page.fill(tid('create-credits'), '10');
    await page.fill(tid('create-valid-until'), 'in 10 days');
    await page.fill(tid('create-strategy'), 'top_n:2');
    await page.click(tid('create-submit'));
    await page.waitForSelector(tid('new-key-value'));
    const apiKey = (await page.textContent(tid('new-key-value'))).trim();
    check(apiKey.startsWith('btvep-'), `the new key is shown (${apiKey.slice(0, 8)}…)`);
    const keyId = Number((await page.textContent(`${tid('new-key-box')} strong`)).match(/#(\d+)/)[1]);
    await page.waitForSelector(tid(`key-row-${keyId}`));
    check((await page.textContent(tid(`key-credits-${keyId}`))).trim() === '10', `key #${keyId} is listed with 10 credits`);
    await page.screenshot({ path: path.join(SHOTS, 'key-created.png') });
    await page.click(tid('new-key-copy'));
    await page.waitForFunction(s => /Copied|Ctrl\+C/.test(document.querySelector(s)?.textContent), tid('new-key-copy'));
    check(/Copied|Ctrl\+C/.test(await page.textContent(tid('new-key-copy'))), `the copy button reacts ("${(await page.textContent(tid('new-key-copy'))).trim()}")`);
    await page.click(tid('new-key-dismiss'));
    check(await page.locator(tid('new-key-box')).count() === 0, 'the new-key box can be dismissed');

    // --- a bad expiry is reported, not swallowed
    await page.fill(tid('create-valid-until'), 'the twelfth of never');
    await page.click(tid('create-submit'));
    await page.waitForFunction(s => document.querySelector(s)?.textContent.trim(), tid('key-create-error'));
    check(/cannot understand/i.test(await page.textContent(tid('key-create-error'))), 'an invalid expiry shows the API error');

    // --- use the key for a real request
    const marker = `browser test ${Date.now()}: what is 1+1?`;
    const answer = await chat(apiKey, marker);
    check(answer.status === 200 && answer.body?.choices?.length > 0, `POST /chat with the new key answers 200 (${answer.body?.choices?.[0]?.message?.content?.slice(0, 40)}…)`);

    // --- the request shows in the logs page, newest first
    await page.click(tid('nav-logs'));
    const row = page.locator(`${tid('logs-table')} tbody tr`, { hasText: marker });
    await eventually(async () => {
      if (await row.count()) return true;
      await page.click(tid('logs-apply'));
      return false;
    }, 'the /chat request in the logs page');
    check((await row.first().locator(tid('log-key')).textContent()).trim() === String(keyId), 'the log row names the new key');
    check(/ok/.test(await row.first().locator(tid('log-outcome')).textContent()), 'the log row shows a successful outcome');
    const firstPrompt = await page.locator(`${tid('logs-table')} tbody tr`).first().textContent();
    check(firstPrompt.includes(marker), 'the newest request is on top');
    await page.screenshot({ path: path.join(SHOTS, 'logs.png') });
    await page.fill(tid('logs-filter-key'), String(keyId));
    await page.click(tid('logs-apply'));
    await eventually(async () => {
      const keysShown = await page.locator(`${tid('logs-table')} ${tid('log-key')}`).allTextContents();
      return keysShown.length > 0 && keysShown.every(k => k.trim() === String(keyId));
    }, 'the key filter');
    ok('the key filter shows only that key\'s records');
    await page.click(tid('logs-reset'));

    // --- the overview counters and charts moved
    await page.click(tid('nav-overview'));
    await eventually(async () => num(await page.textContent(tid('card-requests-value'))) > before, 'the request counter to move');
    ok(`the request counter moved (${before} -> ${num(await page.textContent(tid('card-requests-value')))})`);
    await eventually(async () => (await page.locator(tid('top-keys-table')).textContent()).includes(`#${keyId} `), 'the new key in top keys');
    ok('the new key is in the top-keys table');
    check(await page.locator(`${tid('miners-table')} tbody tr`).count() >= 1, 'per-miner table has rows');
    check(await page.locator(`${tid('miners-table')} ${tid('miner-state')}`).count() >= 1, 'the miners table shows each miner\'s state');
    check(await page.locator(`${tid('chart-miner-latency')} rect`).count() >= 2, 'per-miner latency chart is drawn');
    await page.selectOption(tid('window-select'), '86400');
    await page.waitForFunction(() => /24 hours/.test(document.querySelector('[data-testid="overview-body"] h2')?.textContent || ''));
    ok('the window selector switches to 24 hours');
    await page.selectOption(tid('window-select'), '3600');
    await page.waitForFunction(() => /last hour/.test(document.querySelector('[data-testid="overview-body"] h2')?.textContent || ''));
    await page.screenshot({ path: path.join(SHOTS, 'overview.png'), fullPage: true });

    // --- edit the key: credits were charged, then set to 500; a bad rate-limit list is refused
    await page.click(tid('nav-keys'));
    await page.waitForSelector(tid(`key-row-${keyId}`));
    check((await page.textContent(tid(`key-credits-${keyId}`))).trim() === '9', 'the answer cost one credit (10 -> 9)');
    await page.click(tid(`key-edit-${keyId}`));
    await page.fill(tid('edit-rate-limits'), '[{"times": 0, "seconds": 0}]');
    await page.click(tid('edit-save'));
    await page.waitForFunction(s => document.querySelector(s)?.textContent.trim(), tid('edit-error'));
    ok(`an invalid edit shows the API error ("${(await page.textContent(tid('edit-error'))).trim()}")`);
    await page.fill(tid('edit-rate-limits'), '[{"times": 100, "seconds": 60}]');
    await page.fill(tid('edit-credits'), '500');
    await page.click(tid('edit-save'));
    await page.waitForSelector(tid('key-edit-dialog'), { state: 'hidden' });
    await eventually(async () => (await page.textContent(tid(`key-credits-${keyId}`))).trim() === '500', 'credits 500 in the table');
    check((await page.textContent(tid(`key-row-${keyId}`))).includes('100/60s'), 'edited: credits 500, rate limit 100/60s');
    await page.screenshot({ path: path.join(SHOTS, 'keys.png') });

    // --- configuration: masked secrets, inline edit with errors shown
    await page.click(tid('nav-config'));
    await page.waitForSelector(tid('config-table'));
    check((await page.textContent(tid('config-row-admin_api_key'))).includes('********'), 'the admin token is masked');
    check(!(await page.content()).includes(ADMIN), 'the admin token appears nowhere in the page');
    const editable = await page.locator('[data-testid^="config-input-"]').count();
    check(editable > 0, `${editable} config keys are editable`);
    await page.fill(tid('config-input-miner_timeout'), 'soon');
    await page.click(tid('config-save-miner_timeout'));
    await page.waitForFunction(s => document.querySelector(s)?.textContent.trim(), tid('config-error-miner_timeout'));
    ok(`an invalid config value shows the API error ("${(await page.textContent(tid('config-error-miner_timeout'))).trim()}")`);
    await page.fill(tid('config-input-miner_timeout'), '15');
    await page.click(tid('config-save-miner_timeout'));
    await page.waitForSelector(tid('config-saved-miner_timeout'));
    check(await page.inputValue(tid('config-input-miner_timeout')) === '15', 'miner_timeout saved as 15');
    await page.screenshot({ path: path.join(SHOTS, 'config.png'), fullPage: true });

    // --- delete the key (through the confirm dialog); the gateway refuses it at once
    await page.click(tid('nav-keys'));
    await page.waitForSelector(tid(`key-delete-${keyId}`));
    await page.click(tid(`key-delete-${keyId}`));
    await page.click(tid('confirm-no'));
    check(await page.locator(tid(`key-row-${keyId}`)).count() === 1, 'cancelling the confirm dialog keeps the key');
    await page.click(tid(`key-delete-${keyId}`));
    await page.click(tid('confirm-yes'));
    await page.waitForSelector(tid(`key-row-${keyId}`), { state: 'detached' });
    ok('the key is deleted');
    const refused = await chat(apiKey, 'after delete');
    check(refused.status === 401, `the deleted key is refused (${refused.status} ${refused.body?.detail})`);

    // --- sign out
    await page.click(tid('signout'));
    await page.waitForSelector(tid('signin-form'));
    check(await page.evaluate(() => sessionStorage.getItem('btvep_admin_token')) === null, 'signed out; token removed');
    await page.reload();
    await page.waitForSelector(tid('signin-form'));
    ok('after a reload the sign-in form is shown');

    check(pageErrors.length === 0, `no JavaScript errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
  } catch (e) {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: path.join(os.tmpdir(), 'btvep-browser-failure.png'), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().then(() => {
  console.log(`browser: ${passed} passed, 0 failed`);
  console.log('BROWSER TEST PASS');
}, e => {
  console.log(`browser: ${passed} passed, 1 failed`);
  console.log(`BROWSER TEST FAIL: ${e.message.split('\n')[0]} (screenshot: ${path.join(os.tmpdir(), 'btvep-browser-failure.png')})`);
  process.exit(1);
});
