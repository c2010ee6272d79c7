// The analytics dashboard in headless Chromium (puppeteer-core, Debian's chromium), against a
// running `recur serve` whose base URL and API key it is given; it starts nothing itself
// (tests/browser/run.sh does). Exits non-zero when a check fails.
// Usage: node tests/browser/dashboard.test.js BASE_URL API_KEY
//   (or RECUR_DASHBOARD_URL / RECUR_DASHBOARD_KEY; CHROMIUM overrides /usr/bin/chromium)
// Checks:
//   1. the real server: the page (text/html; charset=utf-8, the page CSP), the key typed in,
//      every chart drawn (an <svg> with a data mark in each chart container), no console
//      error, page error, failed request or HTTP error; the key in sessionStorage only;
//      a reload draws again from the kept key;
//   2. a wrong key: each card says what failed, no chart is left, the key is dropped;
//   3. the analytics answers replaced by fixtures (null rates, empty lists, hostile labels):
//      no page error, "No data" where there is none, hostile text stays text.
'use strict';

const puppeteer = require('puppeteer-core');

const base = (process.env.RECUR_DASHBOARD_URL || process.argv[2] || '').replace(/\/$/, '');
const key = process.env.RECUR_DASHBOARD_KEY || process.argv[3] || '';
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30000;
const CHARTS = ['chart-mrr', 'chart-movements', 'chart-churn', 'chart-cohorts', 'chart-survival',
  'chart-cancellations', 'chart-at-risk'];

if (!base || !key) {
  console.error('usage: node tests/browser/dashboard.test.js BASE_URL API_KEY');
  process.exit(2);
}

let passed = 0;
let failed = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Everything that went wrong on a page: console errors (CSP violations among them), uncaught
// exceptions, requests that failed and answers >= 400 (unless `allowStatus` says otherwise).
function watch(page, { allowStatus = () => false } = {}) {
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A request the page itself abandons (a download link's blob) is not a failure.
    if (!r.url().startsWith('blob:')) problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !allowStatus(r)) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return problems;
}

async function enterKey(page, text) {
  await page.click('#api-key', { clickCount: 3 });
  await page.type('#api-key', text);
  await Promise.all([
    page.waitForFunction(() => document.body.dataset.state, { timeout: TIMEOUT }),
    page.click('#settings button[type=submit]'),
  ]);
}

// Per chart container: whether it has an <svg>, and how many data marks.
function charts(page) {
  return page.$$eval('.chart', (containers) => containers.map((c) => ({
    id: c.id,
    svg: c.querySelector('svg') !== null,
    marks: c.querySelectorAll('svg .mark').length,
    noData: [...c.querySelectorAll('svg text')].some((t) => t.textContent.startsWith('No ')),
  })));
}

function cardErrors(page) {
  return page.$$eval('.card .error', (ps) => ps.filter((p) => !p.hidden).map((p) => p.textContent));
}

async function drawsEveryChart(browser) {
  const page = await browser.newPage();
  const problems = watch(page);
  const response = await page.goto(`${base}/dashboard`, { waitUntil: 'load' });
  check(response.status() === 200, `/dashboard answered ${response.status()}`);
  check(response.headers()['content-type'] === 'text/html; charset=utf-8',
    `/dashboard is ${response.headers()['content-type']}, not text/html; charset=utf-8`);
  check((response.headers()['content-security-policy'] || '').includes("script-src 'self'"),
    '/dashboard has no page Content-Security-Policy');

  const started = Date.now();
  await enterKey(page, key);
  const state = await page.evaluate(() => document.body.dataset.state);
  check(state === 'loaded', `the page says ${state}: ${(await cardErrors(page)).join(' | ')}`);
  for (const c of await charts(page)) {
    check(c.svg, `${c.id} has no <svg>`);
    check(c.marks > 0, `${c.id} has no data mark${c.noData ? ' (it says there is no data)' : ''}`);
  }
  check(JSON.stringify((await charts(page)).map((c) => c.id)) === JSON.stringify(CHARTS),
    'the page does not have the seven chart containers');
  const figure = await page.$eval('#mrr-figures .value', (v) => v.textContent);
  check(/\d/.test(figure), `the MRR figure is "${figure}"`);

  const stored = await page.evaluate(() => ({
    session: sessionStorage.getItem('recur.dashboard.key'), local: JSON.stringify(localStorage), url: location.href,
  }));
  check(stored.session === key, 'the key is not in sessionStorage');
  check(!stored.local.includes(key) && !stored.url.includes(key), 'the key leaked into localStorage or the URL');

  // A reload in the same tab draws again from the kept key.
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => document.body.dataset.state, { timeout: TIMEOUT });
  check((await charts(page)).every((c) => c.marks > 0), 'after a reload the charts are not drawn again');
  check(problems.length === 0, `problems on the page:\n  ${problems.join('\n  ')}`);
  await page.close();
  return `every chart drawn in ${Date.now() - started} ms`;
}

async function aWrongKeyShowsErrors(browser) {
  const page = await browser.newPage();
  const problems = watch(page, { allowStatus: (r) => r.status() === 401 && r.url().includes('/v1/analytics/') });
  await page.goto(`${base}/dashboard`, { waitUntil: 'load' });
  await enterKey(page, 'rk_not_a_key');
  check(await page.evaluate(() => document.body.dataset.state) === 'partial', 'a wrong key did not fail the page');
  const errors = await cardErrors(page);
  check(errors.length === 7 && errors.every((e) => e.includes('401')), `card errors: ${JSON.stringify(errors)}`);
  check((await charts(page)).every((c) => !c.svg), 'a chart is left on a failed card');
  check(await page.$eval('#status', (s) => s.classList.contains('failed')), 'the status line does not say it failed');
  check(await page.evaluate(() => sessionStorage.getItem('recur.dashboard.key')) === null, 'a refused key is kept');
  // The console's "Failed to load resource: 401" lines are the browser's, for the allowed 401s.
  const unexpected = problems.filter((p) => !p.includes('401'));
  check(unexpected.length === 0, `problems on the page:\n  ${unexpected.join('\n  ')}`);
  await page.close();
  return 'each card shows its 401';
}

// Answers of the right shape with nulls, empty lists and labels that would be markup.
const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const FIXTURES = {
  mrr: { object: 'analytics.mrr', at: '2027-03-01T00:00:00Z', currency: 'usd', mrr: 0, arr: 0, customers: 0, subscriptions: 0, arpa: null },
  'mrr-movements': { object: 'list', has_more: false, currency: 'usd', data: [] },
  churn: {
    object: 'list', has_more: false, data: [
      { period_start: '2027-01-01T00:00:00Z', period_end: '2027-02-01T00:00:00Z', customers_start: 0, churned_customers: 0,
        customer_churn_rate: null, gross_mrr_churn_rate: null, net_mrr_churn_rate: null, quick_ratio: null },
    ],
  },
  cohorts: {
    object: 'list', has_more: false, data: [
      { cohort_start: '2027-01-01T00:00:00Z', customers: 1, periods: [{ retention: null }] },
      { cohort_start: '2027-02-01T00:00:00Z', customers: 0, periods: [{ retention: null }] },
    ],
  },
  survival: { object: 'list', has_more: false, data: [{ group: HOSTILE, subscriptions: 1, ended: 0, median_days: null, steps: [{ days: 0, survival: 1, lower: 1, upper: 1 }] }] },
  cancellations: { object: 'list', has_more: false, data: [{ period_start: '2027-01-01T00:00:00Z', reason: HOSTILE, cancellations: 2 }, { reason: null, cancellations: 1 }] },
  'at-risk': { object: 'list', has_more: false, model: { name: HOSTILE, backtest_auc: null }, data: [{ subscription: HOSTILE, score: null, reasons: [HOSTILE], mrr: null }] },
};

async function nullsAndEmptyListsAreShownNotThrown(browser) {
  const page = await browser.newPage();
  const problems = watch(page);
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    const match = /\/v1\/analytics\/([a-z-]+)/.exec(request.url());
    if (!match) return request.continue();
    return request.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(FIXTURES[match[1]] || {}) });
  });
  await page.goto(`${base}/dashboard`, { waitUntil: 'load' });
  await enterKey(page, 'rk_fixture');
  check(await page.evaluate(() => document.body.dataset.state) === 'loaded', `card errors: ${(await cardErrors(page)).join(' | ')}`);
  const byId = Object.fromEntries((await charts(page)).map((c) => [c.id, c]));
  check(byId['chart-movements'].noData && byId['chart-movements'].marks === 0, 'an empty movements list is not "No data"');
  check(byId['chart-churn'].noData && byId['chart-churn'].marks === 0, 'null churn rates are not "No data"');
  check(byId['chart-cohorts'].marks === 1, 'not one grey cell for the unknown retention (and none for the empty cohort)');
  check(byId['chart-cancellations'].marks === 2, 'cancellations: not two bars');
  const hostile = await page.evaluate(() => ({
    pwned: window.__pwned === 1,
    images: document.querySelectorAll('img').length,
    asText: [...document.querySelectorAll('svg text, td')].some((t) => t.textContent.includes('<img src=x')),
  }));
  check(!hostile.pwned && hostile.images === 0, 'a label from the API became markup');
  check(hostile.asText, 'the hostile label is not shown as text');
  check(problems.length === 0, `problems on the page:\n  ${problems.join('\n  ')}`);
  await page.close();
  return 'null rates, empty lists and hostile labels drawn as text';
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    for (const test of [drawsEveryChart, aWrongKeyShowsErrors, nullsAndEmptyListsAreShownNotThrown]) {
      const began = Date.now();
      try {
        const note = await test(browser);
        passed += 1;
        console.log(`ok ${test.name} (${Date.now() - began} ms): ${note}`);
      } catch (error) {
        failed += 1;
        console.log(`FAILED ${test.name}: ${error.message}`);
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
