// The browser half of tests/ui_e2e.rs: drives Debian's headless Chromium through
// playwright-core against a running tianshu, and talks to the Rust half over stdio:
//   stdout "WRITE <n>"   -> the harness writes pod_cpu = n for every pod, answers "WROTE <ms>"
//   stdout "RESTART"     -> the harness kills and restarts tianshu, answers
//                            "RESTARTED <down_from_ms> <down_to_ms>"
//   stdout "PASS <what>" / "FAIL <what>: <why>" for each check.
// Environment: TIANSHU_URL, UI_WEB_DIR (for node_modules), UI_ARTIFACTS, CHROMIUM.

import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const require = createRequire(join(process.env.UI_WEB_DIR, 'package.json'));
const { chromium } = require('playwright-core');

const base = process.env.TIANSHU_URL;
const artifacts = process.env.UI_ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

const lines = createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', (l) => waiting.shift()?.(l));
function ask(cmd) {
  return new Promise((resolve) => {
    waiting.push(resolve);
    console.log(cmd);
  });
}

let failed = 0;
function check(what, ok, why = '') {
  if (ok) console.log(`PASS ${what}`);
  else {
    failed++;
    console.log(`FAIL ${what}: ${why}`);
  }
}

const profile = mkdtempSync(join(tmpdir(), 'tianshu-ui-chromium-'));
// A fresh profile per run (Chromium's --user-data-dir, which playwright takes here).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1400, height: 1100 },
});

// Generous ceilings for the 2-core CI machine; timing claims are checked on data time.
const LONG = 30_000;

try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  // 1. The built-in overview renders, with live data from Tianshu's own metrics.
  await page.goto(`${base}/#/d/tianshu-overview`);
  await page.waitForSelector('.grid[data-loaded="true"]', { timeout: LONG });
  const panels = await page.locator('.grid > .panel').count();
  check('overview has its 10 panels', panels === 10, `got ${panels}`);
  await page.waitForFunction(
    () => Number(document.querySelector('.panel[data-title="Active series"]')?.dataset.value) > 0,
    null,
    { timeout: LONG },
  );
  check('overview shows active series from the self-scrape', true);
  await page.waitForFunction(
    () => Number(document.querySelector('.panel-histogram_heatmap')?.dataset.rows) >= 2,
    null,
    { timeout: LONG },
  );
  const rows = await page.locator('.panel-histogram_heatmap').getAttribute('data-rows');
  check('overview latency heatmap has buckets', Number(rows) >= 2, `rows=${rows}`);
  await page.waitForFunction(() => document.body.dataset.live === 'live', null, { timeout: LONG });
  const overviewErrors = await page.locator('.panel[data-error]').count();
  check('overview panels have no errors', overviewErrors === 0, `${overviewErrors} panels in error`);
  await page.waitForTimeout(2500);
  await page.screenshot({ path: join(artifacts, 'overview.png'), fullPage: true });

  // 2. The generated dashboard: one cell per pod.
  await page.goto(`${base}/#/d/e2e`);
  await page.waitForSelector('.grid[data-loaded="true"]', { timeout: LONG });
  const entity = page.locator('.panel-entity_heatmap');
  await page.waitForFunction(() => document.querySelector('.panel-entity_heatmap')?.dataset.cells === '24', null, {
    timeout: LONG,
  });
  check('entity heatmap has one cell per pod (24)', (await entity.getAttribute('data-cells')) === '24');
  const layouts = await entity.getAttribute('data-layouts');

  // 3. Only the bad panel shows an error.
  await page.waitForSelector('.panel[data-title="Broken"][data-error]', { timeout: LONG });
  const broken = await page.locator('.panel[data-title="Broken"]').getAttribute('data-error');
  check('the bad query shows its error on its panel', /parse error/.test(broken ?? ''), broken);
  const inError = await page.locator('.panel[data-error]').count();
  check('no other panel shows an error', inError === 1, `${inError} panels in error`);
  await page.waitForFunction(() => document.body.dataset.live === 'live', null, { timeout: LONG });

  // 4. New data shows within 2 s: the first tick carrying it is at most 2 s (of data
  // time) after the samples' timestamp.
  for (const n of [5, 9]) {
    const wrote = Number((await ask(`WRITE ${n}`)).split(' ')[1]);
    await page.waitForFunction((want) => document.querySelector('.panel-entity_heatmap')?.dataset.valueSum === want, String(24 * n), {
      timeout: LONG,
    });
    const tick = Number(await entity.getAttribute('data-last-tick'));
    const lag = tick * 1000 - wrote;
    check(`value ${n} shows at the tick within 2 s of the write`, lag <= 2000, `tick ${tick * 1000} − write ${wrote} = ${lag} ms`);
  }
  check('ticks did not lay the cells out again', (await entity.getAttribute('data-layouts')) === layouts);
  await page.click('.panel-entity_heatmap .tabs button[data-tab="1"]');
  await page.waitForFunction(() => document.querySelector('.panel-entity_heatmap')?.dataset.tab === '1');
  check('switching tabs keeps the layout', (await entity.getAttribute('data-layouts')) === layouts);
  await page.hover('.panel-entity_heatmap canvas', { position: { x: 5, y: 20 } });
  const tip = await page.locator('.panel-entity_heatmap .tooltip').textContent();
  check('hovering a cell shows its labels', /pod="/.test(tip ?? ''), tip);
  await page.screenshot({ path: join(artifacts, 'e2e-dashboard.png'), fullPage: true });
  await page.click('.panel-entity_heatmap .tabs button[data-tab="0"]');
  await page.waitForFunction(
    () => document.querySelector('.panel[data-title="Latency"]')?.dataset.rows === '4',
    null,
    { timeout: LONG },
  );
  check('histogram heatmap has one row per bucket (4)', true);

  // 5. A server restart: the page reconnects, backfills the gap and goes on.
  const [, downFrom, downTo] = (await ask('RESTART')).split(' ').map(Number);
  await page.waitForFunction(() => Number(document.body.dataset.backfills ?? 0) >= 1, null, { timeout: LONG });
  await page.waitForFunction(() => document.body.dataset.live === 'live', null, { timeout: LONG });
  const ts = page.locator('.panel-timeseries').first();
  await page.waitForFunction(() => Number(document.querySelector('.panel-timeseries')?.dataset.backfilled ?? 0) > 0, null, {
    timeout: LONG,
  });
  const backfilled = Number(await ts.getAttribute('data-backfilled'));
  const gapSteps = Math.floor((downTo - downFrom) / 1000);
  check('the gap is backfilled', backfilled >= Math.min(2, gapSteps), `backfilled ${backfilled} steps of a ${gapSteps}-step gap`);
  const before = Number(await ts.getAttribute('data-last-tick'));
  await page.waitForFunction((b) => Number(document.querySelector('.panel-timeseries')?.dataset.lastTick) > b, before, {
    timeout: LONG,
  });
  check('live ticks resume after the restart', true);
  const wrote = Number((await ask('WRITE 3')).split(' ')[1]);
  await page.waitForFunction(() => document.querySelector('.panel-entity_heatmap')?.dataset.valueSum === '72', null, {
    timeout: LONG,
  });
  check('new data shows after the restart', wrote > 0);
  await page.screenshot({ path: join(artifacts, 'after-restart.png'), fullPage: true });

  // 6. Editing: the dashboard's JSON edited in the page is saved back to its file.
  await page.click('.toolbar button.edit');
  const json = JSON.parse(await page.inputValue('.editor textarea'));
  json.title = 'Edited in the browser';
  await page.fill('.editor textarea', JSON.stringify(json, null, 2));
  await page.click('.editor button.save');
  await page.waitForFunction(() => document.querySelector('.toolbar h2')?.textContent === 'Edited in the browser', null, {
    timeout: LONG,
  });
  check('an edited dashboard is saved and redrawn', true);

  // 7. The explorer: a bad query's error inline, a good one graphed.
  await page.goto(`${base}/#/?q=${encodeURIComponent('sum(rate(pod_cpu[')}`);
  await page.waitForSelector('.query-error:not([hidden])', { timeout: LONG });
  const qerr = await page.locator('.query-error').textContent();
  check('explorer shows the parse error inline', /parse error/.test(qerr ?? ''), qerr);
  await page.fill('textarea.expr', 'pod_cpu');
  await page.click('button.run');
  await page.waitForSelector('.graph .uplot', { timeout: LONG });
  const series = await page.locator('.graph').getAttribute('data-series');
  check('explorer graphs every pod', series === '24', `series=${series}`);
  await page.screenshot({ path: join(artifacts, 'explorer.png'), fullPage: true });

  check('no uncaught page errors', consoleErrors.length === 0, consoleErrors.join(' | '));
} catch (e) {
  failed++;
  console.log(`FAIL unexpected: ${e?.stack ?? e}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failed === 0 ? 'DONE ok' : `DONE ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
