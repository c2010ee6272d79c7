// Recur's hosted invoice page (/i#TOKEN) in headless Chromium (puppeteer-core, Debian's
// chromium), on a link read out of a real e-mail by tests/browser/invoice_page.sh, which
// starts the server; this file starts nothing itself. Exits non-zero when a check fails.
// Usage: node tests/browser/invoice_page.test.js BASE_URL LINK
// Checks:
//   1. the link: the page (text/html; charset=utf-8, the page CSP), the token moved off the
//      address bar into sessionStorage, what is due, the invoice as its PDF shows it, the
//      waiting charge; the customer's hostile name shown as text; no console error;
//   2. the PDF button answers a PDF; the test bank approves, the check settles it: "Payment
//      received", the invoice paid, nothing due, no charge waiting;
//   3. a reload (no fragment any more) draws the paid invoice again from the kept token;
//   4. a link with an unknown token says so and keeps nothing;
//   5. throughout: the token is in no request URL (only in request bodies).
'use strict';

const puppeteer = require('puppeteer-core');

const base = (process.argv[2] || '').replace(/\/$/, '');
const link = process.argv[3] || '';
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30000;

if (!base || !link.includes('#')) {
  console.error('usage: node tests/browser/invoice_page.test.js BASE_URL LINK');
  process.exit(2);
}
const token = decodeURIComponent(link.slice(link.indexOf('#') + 1));

let passed = 0;
let failed = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Console errors, page errors, failed requests, answers >= 400 (unless allowed), and every
// request URL (to look for the token in them).
// (Chromium logs every answer >= 400 as a console error too: `allowConsole` lets the expected one.)
function watch(page, {allowStatus = () => false, allowConsole = () => false} = {}) {
  const problems = [];
  const urls = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowConsole(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // What reaches a server: the URL without its fragment.
  page.on('request', (r) => urls.push(r.url().split('#')[0]));
  page.on('requestfailed', (r) => {
    if (!r.url().startsWith('blob:'))
      problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !allowStatus(r)) problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return {problems, urls};
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());
const hidden = (page, selector) => page.$eval(selector, (e) => e.hidden);

async function waitForStatus(page, pattern) {
  await page.waitForFunction(
      (source) => new RegExp(source).test(document.getElementById('status').textContent), {timeout: TIMEOUT},
      pattern.source);
}

async function theLinkShowsTheInvoiceAndTheBankStep(browser) {
  const page = await browser.newPage();
  const seen = watch(page);
  const response = await page.goto(link, {waitUntil: 'load'});
  check(response.status() === 200, `/i answered ${response.status()}`);
  check(
      response.headers()['content-type'] === 'text/html; charset=utf-8',
      `content-type ${response.headers()['content-type']}`);
  check((response.headers()['content-security-policy'] || '').includes('script-src \'self\''), 'no page CSP');
  await waitForStatus(page, /waiting for payment/);
  check(page.url() === `${base}/i`, `the address bar still shows the token: ${page.url()}`);
  check(
      await page.evaluate(() => sessionStorage.getItem('recur.invoice.token')) === token,
      'the token is not in sessionStorage');
  const due = await text(page, '#due-amount');
  check(due === '$20.00', `amount due shows "${due}"`);
  // The hostile name is text: no element came of it.
  check(
      await text(page, '#due-customer') === 'For <img src=x id=evil>Ada',
      `customer shows "${await text(page, '#due-customer')}"`);
  check(await page.$('#evil') === null, 'the customer name became markup');
  const invoices = await page.$$('article.invoice');
  check(invoices.length === 1, `${invoices.length} invoices drawn`);
  check(await text(page, 'article.invoice .badge') === 'open', 'the invoice is not shown open');
  const facts = await page.$$eval('article.invoice dl.facts dt', (dts) => dts.map((d) => d.textContent));
  check(facts.includes('Invoice number') && facts.includes('Date due'), `facts: ${facts}`);
  const amountDue = await page.$$eval('article.invoice tr.total', (rows) => rows.map((r) => r.textContent));
  check(amountDue.some((t) => t.startsWith('Amount due') && t.endsWith('20.00 USD')), `totals: ${amountDue}`);
  check(!(await hidden(page, '#action')), 'the waiting charge is not offered');
  check(await page.$('.waiting .sandbox-approve') !== null, 'no test-bank buttons for a sandbox charge');
  const waitingLine = await text(page, '.waiting p');
  check(/for invoice INV-\d{6}$/.test(waitingLine), `the waiting charge names "${waitingLine}", not the invoice's number`);
  check(!(await hidden(page, '#update')), 'no form for another payment method while something is due');

  // The PDF button: the invoice's PDF, asked for with the token in the body.
  const [pdf] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/payment-updates/invoice-pdf'), {timeout: TIMEOUT}),
    page.click('article.invoice button.pdf'),
  ]);
  check(
      pdf.status() === 200 && pdf.headers()['content-type'] === 'application/pdf', `the PDF answered ${pdf.status()}`);

  // The bank approves (the sandbox's stand-in), then the customer checks the payment.
  await Promise.all([
    page.waitForResponse((r) => r.url().includes('/authenticate') && r.status() === 200, {timeout: TIMEOUT}),
    page.click('.waiting .sandbox-approve'),
  ]);
  await waitForStatus(page, /approved/);
  await page.click('.waiting .confirm');
  await waitForStatus(page, /Payment received/);
  check(await text(page, 'article.invoice .badge') === 'paid', 'the invoice is not shown paid');
  check(await text(page, '#due-amount') === 'Nothing is due', `amount due shows "${await text(page, '#due-amount')}"`);
  check(await hidden(page, '#action'), 'a settled charge is still offered');
  check(await hidden(page, '#update'), 'the payment form is offered with nothing due');

  // A reload has no fragment any more: the kept token draws the page again.
  await page.reload({waitUntil: 'load'});
  await waitForStatus(page, /Nothing is waiting/);
  check(await text(page, 'article.invoice .badge') === 'paid', 'the reload does not show the paid invoice');

  check(
      seen.urls.every((u) => !u.includes(token) && !u.includes(encodeURIComponent(token))),
      `the token is in a request URL: ${seen.urls.filter((u) => u.includes(token))}`);
  check(seen.problems.length === 0, seen.problems.join('; '));
  await page.close();
}

async function anUnknownTokenSaysSo(browser) {
  const page = await browser.newPage();
  const seen = watch(page, {
    allowStatus: (r) => r.status() === 404 && r.url().endsWith('/lookup'),
    allowConsole: (text) => text.includes('status of 404'),
  });
  await page.goto(`${base}/i#no-such-token`, {waitUntil: 'load'});
  await waitForStatus(page, /expired or was already used/);
  check(await page.evaluate(() => sessionStorage.getItem('recur.invoice.token')) === null, 'a refused token is kept');
  check(await page.$$eval('article.invoice', (a) => a.length) === 0, 'invoices drawn for an unknown token');
  check(await hidden(page, '#due'), 'an amount due is shown for an unknown token');
  check(seen.problems.length === 0, seen.problems.join('; '));
  await page.close();
}

async function run(name, fn, browser) {
  try {
    await fn(browser);
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    await run(
        'the link shows the invoice, the bank step and the payment', theLinkShowsTheInvoiceAndTheBankStep, browser);
    await run('an unknown token says so', anUnknownTokenSaysSo, browser);
  } finally {
    await browser.close();
  }
  console.log(`invoice page: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
