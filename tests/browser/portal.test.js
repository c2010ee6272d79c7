// Recur's customer portal (/portal: server-rendered HTML, no JavaScript) in headless Chromium
// (puppeteer-core, Debian's chromium), against the server tests/browser/portal.sh starts with
// a box plan with a selection, a retention offer and one customer's subscription; this file
// starts nothing itself. Exits non-zero when a check fails.
// Usage: node tests/browser/portal.test.js BASE_URL MAILDIR FIXTURE_JSON RESULT_JSON
//   FIXTURE_JSON: what portal.sh made (admin key, e-mail, ids, the next boxes' starts, the offer);
//   RESULT_JSON: written here, what the browser did (the box skipped, the box chosen and its
//   items, whether the offer was accepted), for portal.sh to check against the database.
// Checks (the contract: /work/notes/portal-contract.md, "The portal"):
//   1. without a session /portal, a subscription's page and the account page are a 303 to
//      /portal/sign-in, which has form#sign-in;
//   2. the sign-in form answers the same notice for a known and an unknown e-mail; the known
//      customer (only) gets the e-mail, whose text holds the link; the link's GET signs nobody
//      in and can be opened twice; its confirm button is a 303 to /portal with the cookie
//      recur_portal (HttpOnly, SameSite=Strict, Path=/portal; not readable by scripts);
//   3. the overview: the name as text, the subscription, the invoice and its PDF, the links;
//   4. the subscription page: status, plan, next date, the three next boxes and their forms;
//      every form a POST with the csrf field;
//   5. a POST without the csrf field (or with a wrong one) is refused, 403, and changes nothing;
//   6. skipping the first box: 303, #notice, the box shown skipped or gone;
//   7. choosing a box: #choose, one number input per option; a wrong count re-rendered with
//      the API's status and its problem detail in p.error (asked of the API for the same
//      choice); the right one a 303, #notice, the box showing the choice;
//   8. cancel: the reason, the offer (its description) and cancel-anyway; accepting it is a 303,
//      #notice, the subscription still active;
//   9. a used and an unknown link: 400 with .error, no cookie;
//  10. sign-out: /portal then redirects to sign-in, and the old cookie opens nothing.
'use strict';

const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const base = (process.argv[2] || '').replace(/\/$/, '');
const maildir = process.argv[3] || '';
const fixturePath = process.argv[4] || '';
const resultPath = process.argv[5] || '';
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30000;
const MAIL_TIMEOUT = 20000;

if (!base || !maildir || !fixturePath || !resultPath) {
  console.error('usage: node tests/browser/portal.test.js BASE_URL MAILDIR FIXTURE_JSON RESULT_JSON');
  process.exit(2);
}
const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8'));
const portal = `${base}/portal`;
const sid = fixture.subscription;
const optionIds = fixture.options.map((o) => o.id);
const UNKNOWN_EMAIL = 'nobody-here@example.com';

// What the browser did, for portal.sh's database checks.
const result = {};
// Shared between the steps: the signed-in page and the link it came from.
const state = {page: null, link: null, cookie: null};

let passed = 0;
let failed = 0;

// check: a failure that ends the step (what follows needs it); expect: one that is recorded,
// the step goes on, and fails at its end with every such message.
let soft = [];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function expect(condition, message) {
  if (!condition) soft.push(message);
  return condition;
}

function need(value, what) {
  if (!value) throw new Error(`not run: ${what} (an earlier step failed)`);
  return value;
}

// ------------------------------------------------------------------ the admin API (the test clock,
// and how the API words a refusal)

async function admin(method, apiPath, body) {
  const r = await fetch(base + apiPath, {
    method,
    headers: {'Authorization': `Bearer ${fixture.admin_key}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${apiPath} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

// A request the API refuses: its status and problem detail.
async function adminRefusal(method, apiPath, body) {
  const r = await fetch(base + apiPath, {
    method,
    headers: {'Authorization': `Bearer ${fixture.admin_key}`, 'Content-Type': 'application/json'},
    body: JSON.stringify(body),
  });
  const answer = await r.json().catch(() => ({}));
  if (r.ok) throw new Error(`${method} ${apiPath} was not refused: ${r.status}`);
  return {status: r.status, detail: answer.detail};
}

// The outbox sends on the test clock: one second on.
async function tick() {
  const now = new Date((await admin('GET', '/v1/test-clock')).now);
  const to = new Date(now.getTime() + 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await admin('POST', '/v1/test-clock/advance', {to});
}

// ------------------------------------------------------------------ the maildir

function decodeWords(value) {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=\s*(?==\?)?/g, (all, charset, enc, text) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
    return Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g,
        (m, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  });
}

function decodeQuotedPrintable(body) {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g,
      (m, h) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function splitHeaders(raw) {
  const at = raw.search(/\r?\n\r?\n/);
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {headers, body};
}

// The text parts of a MIME message: [{type, text}].
function textParts(raw) {
  const {headers, body} = splitHeaders(raw);
  const type = (headers['content-type'] || 'text/plain').toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(headers['content-type']);
    if (!boundary) return [];
    return body.split(`--${boundary[1]}`).slice(1).filter((p) => !p.startsWith('--'))
        .flatMap((p) => textParts(p.replace(/^\r?\n/, '')));
  }
  if (!type.startsWith('text/')) return [];
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  let text = body;
  if (encoding === 'base64') text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (encoding === 'quoted-printable') text = decodeQuotedPrintable(body);
  return [{type: type.split(';')[0], text}];
}

function mailbox() {
  const messages = [];
  for (const sub of ['new', 'cur']) {
    const dir = path.join(maildir, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      const raw = fs.readFileSync(path.join(dir, name), 'latin1');
      const {headers} = splitHeaders(raw);
      messages.push({
        to: decodeWords(headers['to'] || ''),
        subject: decodeWords(headers['subject'] || ''),
        parts: textParts(raw),
      });
    }
  }
  return messages;
}

const signInMails = (to) =>
  mailbox().filter((m) => m.subject.toLowerCase().includes('sign-in link') && m.to.toLowerCase().includes(to));

async function poll(condition, timeout) {
  const deadline = Date.now() + timeout;
  let pause = 10;
  for (;;) {
    const value = condition();
    if (value || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 200);
  }
}

// ------------------------------------------------------------------ pages

// Console errors, page errors, failed requests and answers >= 400, unless expected:
// `seen.expect(status)` allows one answer of that status (and Chromium's console line for it).
// A missing favicon is not the portal's business.
function watch(page) {
  const problems = [];
  const expected = [];
  const everExpected = new Set();  // the console line may come after the answer
  const favicon = (url) => /\/favicon\.ico$/.test(url || '');
  page.on('console', (m) => {
    if (m.type() !== 'error' || favicon(m.location() && m.location().url)) return;
    if ([...everExpected].some((s) => m.text().includes(`status of ${s}`))) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    const error = r.failure() && r.failure().errorText;
    // A fetch with redirect: 'manual' or a download the page abandons is not a failure.
    if (!r.url().startsWith('blob:') && error !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${error}`);
  });
  page.on('response', (r) => {
    if (r.status() < 400 || favicon(r.url())) return;
    const i = expected.indexOf(r.status());
    if (i >= 0) expected.splice(i, 1);
    else problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return {problems, expect: (status) => { expected.push(status); everExpected.add(status); }};
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.replace(/\s+/g, ' ').trim());
const pathOf = (url) => decodeURIComponent(new URL(url, base).pathname);
const sameInstant = (a, b) => !Number.isNaN(Date.parse(a)) && Date.parse(a) === Date.parse(b);

// The status of each redirect on the way to `response`, then its own.
function statuses(response) {
  return [...response.request().redirectChain().map((r) => r.response() && r.response().status()), response.status()];
}

// Submits `form` (a selector or handle) with its submit button, as a person would; answers the
// navigation's final response.
async function submit(page, form, what) {
  const handle = typeof form === 'string' ? await page.$(form) : form;
  check(handle, `no ${what || form} on ${page.url()}`);
  const button = await handle.$('button[type=submit], button:not([type]), input[type=submit]');
  check(button, `${what || form} on ${page.url()} has no submit button`);
  const [response] = await Promise.all([page.waitForNavigation({waitUntil: 'load', timeout: TIMEOUT}), button.click()]);
  check(response, `submitting ${what || form} navigated nowhere`);
  return response;
}

// A 303 then 200 at `expectedPath` showing a non-empty #notice.
async function expectNotice(page, response, expectedPath, what) {
  const chain = statuses(response);
  if (!expect(chain.length >= 2 && chain[0] === 303, `${what}: the POST answered ${chain.join(' -> ')}, not 303 then 200`)) {
    const error = await text(page, '.error').catch(() => null);
    if (error) soft.push(`${what}: the page says "${error}"`);
  }
  expect(response.status() === 200, `${what}: the page after the redirect answered ${response.status()}`);
  expect(pathOf(page.url()) === expectedPath, `${what}: redirected to ${pathOf(page.url())}, not ${expectedPath}`);
  if (!expect(await page.$('p#notice'), `${what}: no p#notice on ${expectedPath}`)) return null;
  const shown = await text(page, '#notice');
  expect(shown.length > 0, `${what}: #notice is empty`);
  return shown;
}

// Every form of the page: method post with a non-empty hidden csrf field.
async function formsCarryCsrf(page) {
  const forms = await page.$$eval('form', (fs) => fs.map((f) => {
    const csrf = f.querySelector('input[name=csrf]');
    return {
      id: f.id || f.className || f.getAttribute('action'),
      method: (f.getAttribute('method') || '').toLowerCase(),
      csrf: csrf ? {type: csrf.type, value: csrf.value} : null,
    };
  }));
  expect(forms.length > 0, `no form on ${page.url()}`);
  for (const f of forms) {
    expect(f.method === 'post', `form ${f.id} on ${pathOf(page.url())} has method="${f.method}", not post`);
    expect(f.csrf && f.csrf.type === 'hidden' && f.csrf.value, `form ${f.id} on ${pathOf(page.url())} has no hidden csrf value`);
  }
}

// The boxes of the subscription page as shown.
function boxesShown(page) {
  return page.$$eval('ol#boxes > li.box', (lis) => lis.map((li) => ({
    start: li.dataset.periodStart,
    skipForm: li.querySelector('form.skip') !== null,
    customize: li.querySelector('a.customize') ? li.querySelector('a.customize').href : null,
    skippedMark: li.classList.contains('skipped') || 'skipped' in li.dataset || /skipped/i.test(li.textContent),
    items: [...li.querySelectorAll('ul.contents > li.item')].map((i) => ({
      product: i.dataset.product,
      quantity: i.dataset.quantity,
    })),
  })));
}

// A box's units of the plan's options, {product: quantity}.
function optionUnits(box) {
  const units = {};
  for (const item of box.items) {
    if (!optionIds.includes(item.product)) continue;
    units[item.product] = (units[item.product] || 0) + Number(item.quantity);
  }
  return units;
}

// ------------------------------------------------------------------ the checks

async function withoutASessionEveryPageSendsToSignIn(browser) {
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const seen = watch(page);
    for (const p of ['/portal', `/portal/subscriptions/${sid}`, '/portal/account']) {
      const response = await page.goto(base + p, {waitUntil: 'load'});
      const chain = statuses(response);
      expect(chain[0] === 303, `${p} without a session answered ${chain.join(' -> ')}, not a 303`);
      expect(pathOf(page.url()) === '/portal/sign-in', `${p} without a session ends at ${page.url()}`);
    }
    const response = await page.goto(`${portal}/sign-in`, {waitUntil: 'load'});
    expect(response.status() === 200, `/portal/sign-in answered ${response.status()}`);
    expect((response.headers()['content-type'] || '').startsWith('text/html'),
        `/portal/sign-in is ${response.headers()['content-type']}`);
    const form = await page.$eval('form#sign-in', (f) => ({
      method: (f.getAttribute('method') || '').toLowerCase(),
      action: f.action,
      email: f.querySelector('input[name=email]') !== null,
    })).catch(() => null);
    check(form, 'no form#sign-in on /portal/sign-in');
    expect(form.method === 'post', `form#sign-in has method "${form.method}"`);
    expect(pathOf(form.action) === '/portal/sign-in', `form#sign-in posts to ${form.action}`);
    expect(form.email, 'form#sign-in has no input[name=email]');
    expect(seen.problems.length === 0, seen.problems.join('; '));
  } finally {
    await context.close();
  }
}

async function askForALink(page, email) {
  await page.goto(`${portal}/sign-in`, {waitUntil: 'load'});
  await page.type('form#sign-in input[name=email]', email);
  const response = await submit(page, 'form#sign-in');
  expect(response.status() === 200, `POST /portal/sign-in for ${email} answered ${statuses(response).join(' -> ')}, not 200`);
  // Without #notice the page's text stands in, for comparing the two answers.
  const notice = expect(await page.$('#notice'), `POST /portal/sign-in (${email}): no #notice on the 200 page ` +
      `(it shows: "${await text(page, 'body')}")`);
  return text(page, notice ? '#notice' : 'body');
}

async function theEmailedLinkSignsIn(browser) {
  const page = await browser.newPage();
  const seen = watch(page);
  const unknownNotice = await askForALink(page, UNKNOWN_EMAIL);
  const knownNotice = await askForALink(page, fixture.email);
  expect(knownNotice === unknownNotice,
      `the notice tells the e-mails apart: "${knownNotice}" for the customer, "${unknownNotice}" for an unknown one`);

  await tick();
  const mails = await poll(() => {
    const found = signInMails(fixture.email.toLowerCase());
    return found.length ? found : null;
  }, MAIL_TIMEOUT);
  check(mails, `no e-mail with a subject containing "sign-in link" reached ${fixture.email} ` +
      `(subjects seen: ${JSON.stringify(mailbox().map((m) => `${m.to}: ${m.subject}`))})`);
  expect(mails.length === 1, `${mails.length} sign-in e-mails for one request`);
  expect(signInMails(UNKNOWN_EMAIL).length === 0, `an unknown address got a sign-in e-mail`);
  const plain = mails[0].parts.filter((p) => p.type === 'text/plain').map((p) => p.text).join('\n');
  const escaped = `${portal}/sign-in/link?token=`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const found = new RegExp(`${escaped}([A-Za-z0-9_.~%-]*[A-Za-z0-9_~%-])`).exec(plain);
  check(found, `the e-mail's text holds no ${portal}/sign-in/link?token=… link: ${JSON.stringify(plain.slice(0, 600))}`);
  const link = found[0];
  state.link = link;

  // The GET is harmless (mail scanners prefetch): twice, and no cookie yet.
  for (const attempt of ['first', 'second']) {
    const response = await page.goto(link, {waitUntil: 'load'});
    expect(response.status() === 200, `the link's ${attempt} GET answered ${response.status()}`);
    const form = await page.$eval('form#confirm', (f) => ({
      method: (f.getAttribute('method') || '').toLowerCase(),
      token: f.querySelector('input[type=hidden][name=token]') && f.querySelector('input[name=token]').value,
    })).catch(() => null);
    check(form, `no form#confirm on the link's page (${attempt} GET)`);
    expect(form.method === 'post', `form#confirm has method "${form.method}"`);
    expect(form.token, 'form#confirm has no hidden token');
  }
  const before = (await page.browserContext().cookies()).filter((c) => c.name === 'recur_portal');
  expect(before.length === 0, 'the link\'s GET already set recur_portal');

  const response = await submit(page, 'form#confirm');
  const chain = statuses(response);
  expect(chain[0] === 303, `the confirm POST answered ${chain.join(' -> ')}, not 303`);
  expect(pathOf(page.url()) === '/portal', `the confirm POST led to ${page.url()}, not /portal`);
  expect(response.status() === 200, `/portal answered ${response.status()} after signing in`);
  state.page = page;

  const cookie = (await page.browserContext().cookies()).find((c) => c.name === 'recur_portal');
  check(cookie, `no recur_portal cookie after signing in (cookies: ${(await page.browserContext().cookies()).map((c) => c.name)})`);
  state.cookie = cookie;
  expect(cookie.httpOnly === true, 'recur_portal is not HttpOnly');
  expect(cookie.sameSite === 'Strict', `recur_portal is SameSite=${cookie.sameSite}, not Strict`);
  expect(cookie.path === '/portal', `recur_portal has Path=${cookie.path}, not /portal`);
  expect(!(await page.evaluate(() => document.cookie)).includes('recur_portal'), 'document.cookie shows recur_portal');
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function theOverviewShowsTheCustomer() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  const response = await page.goto(portal, {waitUntil: 'load'});
  expect(response.status() === 200, `/portal answered ${response.status()}`);
  const h1 = await text(page, 'h1').catch(() => null);
  check(h1 !== null, 'no h1 on /portal');
  expect(h1.includes(fixture.customer_name), `h1 shows "${h1}", not the name "${fixture.customer_name}"`);
  expect(await page.$('#evil') === null, 'the customer\'s name became markup');

  const subs = await page.$$eval('ul#subscriptions > li.subscription', (lis) => lis.map((li) => ({
    id: li.dataset.id,
    hrefs: [...li.querySelectorAll('a')].map((a) => a.href),
    status: li.querySelector('.status') && li.querySelector('.status').textContent.trim(),
  })));
  check(subs.length === 1, `ul#subscriptions > li.subscription: ${subs.length}, not 1`);
  expect(subs[0].id === sid, `li.subscription data-id="${subs[0].id}", not ${sid}`);
  expect(subs[0].hrefs.some((h) => pathOf(h) === `/portal/subscriptions/${sid}`),
      `li.subscription has no a to /portal/subscriptions/${sid}: ${subs[0].hrefs}`);
  expect(subs[0].status !== null && /active/i.test(subs[0].status), `li.subscription .status shows "${subs[0].status}"`);

  const invoices = await page.$$eval('table#invoices tr.invoice', (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    pdf: tr.querySelector('a.pdf') && tr.querySelector('a.pdf').href,
  })));
  check(invoices.length >= 1, 'no table#invoices tr.invoice (the signup\'s invoice)');
  for (const inv of invoices) {
    expect(/^in_/.test(inv.id || ''), `tr.invoice data-id="${inv.id}"`);
    expect(inv.pdf && pathOf(inv.pdf) === `/portal/invoices/${inv.id}/pdf`, `tr.invoice ${inv.id} a.pdf -> ${inv.pdf}`);
  }
  const pdf = await page.evaluate(async (url) => {
    const r = await fetch(url, {credentials: 'same-origin'});
    const bytes = new Uint8Array(await r.arrayBuffer());
    return {status: r.status, type: r.headers.get('content-type'), magic: String.fromCharCode(...bytes.slice(0, 5))};
  }, invoices[0].pdf);
  expect(pdf.status === 200 && (pdf.type || '').startsWith('application/pdf') && pdf.magic === '%PDF-',
      `a.pdf answered ${pdf.status} ${pdf.type} starting "${pdf.magic}"`);

  for (const [selector, p] of [['a#account', '/portal/account'], ['a#claim-gift', '/portal/gifts/claim']]) {
    const href = await page.$eval(selector, (a) => a.href).catch(() => null);
    expect(href && pathOf(href) === p, `${selector} -> ${href}, not ${p}`);
  }
  const signOut = await page.$eval('form#sign-out', (f) => f.action).catch(() => null);
  expect(signOut && pathOf(signOut) === '/portal/sign-out', `form#sign-out posts to ${signOut}`);
  await formsCarryCsrf(page);
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function theSubscriptionPageShowsItsBoxes() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  await page.goto(portal, {waitUntil: 'load'});
  const [response] = await Promise.all([
    page.waitForNavigation({waitUntil: 'load', timeout: TIMEOUT}),
    page.click(`ul#subscriptions > li.subscription[data-id="${sid}"] a[href*="/portal/subscriptions/"]`),
  ]);
  expect(response.status() === 200, `the subscription's page answered ${response.status()}`);
  expect(pathOf(page.url()) === `/portal/subscriptions/${sid}`, `the link led to ${page.url()}`);

  const status = await text(page, '#status').catch(() => null);
  expect(status && /active/i.test(status), `#status shows "${status}", not active`);
  const plan = await text(page, '#plan').catch(() => null);
  expect(plan && plan.includes(fixture.plan_name), `#plan shows "${plan}", not "${fixture.plan_name}"`);
  const next = await text(page, '#next-date').catch(() => null);
  expect(next === fixture.next_date, `#next-date shows "${next}", not ${fixture.next_date}`);

  const boxes = await boxesShown(page);
  expect(boxes.length === 3, `ol#boxes > li.box: ${boxes.length}, not 3`);
  boxes.forEach((box, i) => {
    expect(sameInstant(box.start, fixture.boxes[i]),
        `box ${i + 1} data-period-start="${box.start}", not ${fixture.boxes[i]} (GET …/boxes)`);
    expect(box.skipForm, `box ${i + 1} (${box.start}) has no form.skip`);
    const units = Object.values(optionUnits(box)).reduce((a, b) => a + b, 0);
    expect(units === fixture.choose,
        `box ${i + 1} (${box.start}) ul.contents shows ${units} units of the options, not ${fixture.choose}: ` +
        JSON.stringify(box.items));
    expect(box.customize, `box ${i + 1} (${box.start}) has no a.customize (the plan has a selection, the cut-off is ahead)`);
    const p = pathOf(box.customize);
    const prefix = `/portal/subscriptions/${sid}/boxes/`;
    expect(p.startsWith(prefix) && sameInstant(p.slice(prefix.length), box.start),
        `box ${i + 1} a.customize -> ${box.customize}, not ${prefix}${box.start}`);
  });

  expect(await page.$('form#pause') || await page.$('form#resume'), 'neither form#pause nor form#resume');
  expect(await page.$('form#next-date input[name=date][type=date]'), 'no form#next-date input[name=date][type=date]');
  const intervals = await page.$$eval('form#frequency select[name=interval] option', (os) => os.map((o) => o.value));
  expect(intervals.includes('week') && intervals.includes('month'),
      `form#frequency select[name=interval] offers ${JSON.stringify(intervals)}, not week and month`);
  expect(await page.$('form#frequency input[name=interval_count]'), 'no form#frequency input[name=interval_count]');
  expect(await page.$('form#add-on select[name=product]'), 'no form#add-on select[name=product]');
  expect(await page.$('form#add-on input[name=quantity]'), 'no form#add-on input[name=quantity]');
  const cancel = await page.$eval('a#cancel', (a) => a.href).catch(() => null);
  expect(cancel && pathOf(cancel) === `/portal/subscriptions/${sid}/cancel`, `a#cancel -> ${cancel}`);
  await formsCarryCsrf(page);
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function aPostWithoutTheCsrfFieldIsRefused() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  await page.goto(`${portal}/subscriptions/${sid}`, {waitUntil: 'load'});
  const selector = (await page.$('form#pause')) ? 'form#pause' : 'form#resume';
  const form = await page.$(selector);
  check(form, 'no form#pause or form#resume to post to');
  for (const [what, csrf] of [['without the csrf field', null], ['with a wrong csrf value', 'not-the-token']]) {
    seen.expect(403);
    const answer = await form.evaluate(async (f, csrf) => {
      const body = new URLSearchParams();
      for (const [k, v] of new FormData(f)) if (k !== 'csrf') body.append(k, v);
      if (csrf !== null) body.append('csrf', csrf);
      const r = await fetch(f.action, {method: 'POST', body, credentials: 'same-origin', redirect: 'manual'});
      return {status: r.status, type: r.type, action: f.action};
    }, csrf);
    expect(answer.status === 403,
        `a POST ${what} to ${answer.action} answered ${answer.status || answer.type}, not 403`);
  }
  await page.reload({waitUntil: 'load'});
  const status = await text(page, '#status').catch(() => null);
  expect(status && /active/i.test(status), `after the refused POSTs #status shows "${status}"`);
  expect(await page.$(selector), `after the refused POSTs ${selector} is gone: they acted`);
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function skippingTheFirstBox() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  await page.goto(`${portal}/subscriptions/${sid}`, {waitUntil: 'load'});
  const before = await boxesShown(page);
  check(before.length >= 1, 'no li.box to skip');
  const first = before[0].start;
  const form = await page.$('ol#boxes > li.box:first-child form.skip');
  const response = await submit(page, form, `form.skip of the box of ${first}`);
  await expectNotice(page, response, `/portal/subscriptions/${sid}`, 'skipping the first box');

  const after = await boxesShown(page);
  const shown = after.find((b) => sameInstant(b.start, first));
  if (shown) {
    expect(!shown.skipForm, `the skipped box (${first}) still offers form.skip`);
    expect(!shown.customize, `the skipped box (${first}) still offers a.customize`);
    expect(shown.skippedMark, `the skipped box (${first}) is not shown skipped (no class/data "skipped", no "skipped" text)`);
  }
  const live = (list) => list.filter((b) => b.skipForm).map((b) => Date.parse(b.start)).join(',');
  expect(live(after) !== live(before), `the boxes that can be skipped did not change: ${live(after)}`);
  result.skipped = first;
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function choosingABox() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  await page.goto(`${portal}/subscriptions/${sid}`, {waitUntil: 'load'});
  const boxes = await boxesShown(page);
  const box = boxes.find((b) => b.customize && !(result.skipped && sameInstant(b.start, result.skipped)));
  check(box, 'no box left with a.customize');
  const start = box.start;
  const [opened] = await Promise.all([
    page.waitForNavigation({waitUntil: 'load', timeout: TIMEOUT}),
    page.click(`ol#boxes > li.box[data-period-start="${start}"] a.customize`),
  ]);
  expect(opened.status() === 200, `the box's page answered ${opened.status()}`);
  const choose = await text(page, '#choose').catch(() => null);
  expect(choose && new RegExp(`\\b${fixture.choose}\\b`).test(choose), `#choose shows "${choose}", not how many (${fixture.choose})`);
  const inputs = await page.$$eval('form#selection input[type=number]', (is) => is.map((i) => ({name: i.name, min: i.min})));
  const names = inputs.map((i) => i.name).sort();
  const want = optionIds.map((id) => `qty:${id}`).sort();
  expect(JSON.stringify(names) === JSON.stringify(want),
      `form#selection number inputs ${JSON.stringify(names)}, not one per option ${JSON.stringify(want)}`);
  expect(inputs.every((i) => i.min === '0'), `form#selection inputs' min: ${JSON.stringify(inputs.map((i) => i.min))}`);
  await formsCarryCsrf(page);

  const fill = (quantities) => page.$$eval('form#selection input[type=number]', (is, q) => {
    for (const i of is) i.value = String(q[i.name.slice(4)] || 0);
  }, quantities);

  // Too few: the API's 422, the form again with the problem's detail (as the API words it for
  // the same choice; refused, so asking changes nothing).
  const tooFew = {[optionIds[0]]: 1};
  const api = await adminRefusal('PUT', `/v1/subscriptions/${sid}/boxes/${encodeURIComponent(start)}/selection`,
      {items: [{product: optionIds[0], quantity: 1}]});
  await fill(tooFew);
  seen.expect(api.status);
  const refused = await submit(page, 'form#selection');
  expect(refused.status() === api.status,
      `a choice of 1 unit (of ${fixture.choose}) answered ${statuses(refused).join(' -> ')}, not the API's ${api.status}`);
  const error = await text(page, 'p.error').catch(() => null);
  expect(error === api.detail, `the refused choice shows p.error "${error}", not the API's detail "${api.detail}"`);
  expect(await page.$('form#selection'), 'the refused choice does not show form#selection again');

  // 2 of the last option and 1 of the second: not a pick (one of each), so surely the choice.
  const chosen = {[optionIds[3]]: 2, [optionIds[1]]: 1};
  await fill(chosen);
  const response = await submit(page, 'form#selection');
  await expectNotice(page, response, `/portal/subscriptions/${sid}`, 'choosing a box');
  const shown = (await boxesShown(page)).find((b) => sameInstant(b.start, start));
  check(shown, `the chosen box (${start}) is gone from ol#boxes`);
  const units = optionUnits(shown);
  expect(JSON.stringify(Object.entries(units).sort()) === JSON.stringify(Object.entries(chosen).sort()),
      `the box of ${start} shows ${JSON.stringify(units)} of the options, not the choice ${JSON.stringify(chosen)}`);
  result.customized = start;
  result.items = chosen;
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function acceptingTheRetentionOffer() {
  const page = need(state.page, 'signed in');
  const seen = watch(page);
  await page.goto(`${portal}/subscriptions/${sid}`, {waitUntil: 'load'});
  const [opened] = await Promise.all([
    page.waitForNavigation({waitUntil: 'load', timeout: TIMEOUT}),
    page.click('a#cancel'),
  ]);
  expect(opened.status() === 200, `the cancel page answered ${opened.status()}`);
  expect(pathOf(page.url()) === `/portal/subscriptions/${sid}/cancel`, `a#cancel led to ${page.url()}`);
  const reasons = await page.$$eval('form#cancel-reason select[name=reason] option', (os) => os.map((o) => o.value));
  expect(reasons.includes('too_expensive'), `form#cancel-reason offers the reasons ${JSON.stringify(reasons)}`);
  await formsCarryCsrf(page);
  await page.select('form#cancel-reason select[name=reason]', 'too_expensive');
  const offered = await submit(page, 'form#cancel-reason');
  expect(offered.status() === 200, `the reason's POST answered ${statuses(offered).join(' -> ')}, not 200`);

  // The description: in the form, or beside it in the element that holds it (the contract's
  // "the offer's description in text" does not say which).
  const offers = await page.$$eval('form.offer', (fs) => fs.map((f) => ({
    offer: f.dataset.offer,
    text: f.textContent,
    around: f.parentElement ? f.parentElement.textContent : '',
  })));
  const offer = offers.find((o) => o.offer === fixture.offer.id);
  check(offer, `no form.offer[data-offer="${fixture.offer.id}"] (offers: ${JSON.stringify(offers.map((o) => o.offer))})`);
  expect(offer.text.includes(fixture.offer.description) || offer.around.includes(fixture.offer.description),
      `neither form.offer nor its container shows the offer's description "${fixture.offer.description}": ` +
      `"${offer.around.replace(/\s+/g, ' ').trim()}"`);
  if (!offer.text.includes(fixture.offer.description)) {
    console.log('note the offer\'s description is beside form.offer (in its parent), not inside it');
  }
  expect(await page.$('form#cancel-anyway'), 'no form#cancel-anyway');
  await formsCarryCsrf(page);

  const response = await submit(page, `form.offer[data-offer="${fixture.offer.id}"]`);
  await expectNotice(page, response, `/portal/subscriptions/${sid}`, 'accepting the offer');
  result.offer_accepted = true;
  const status = await text(page, '#status').catch(() => null);
  expect(status && !/cancel/i.test(status) && /active/i.test(status), `#status shows "${status}" after accepting the offer`);
  expect(seen.problems.length === 0, seen.problems.join('; '));
}

async function aUsedOrUnknownLinkSignsNobodyIn(browser) {
  const link = need(state.link, 'the link read out of the e-mail');
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const seen = watch(page);
    for (const [what, url] of [['the used link', link], ['an unknown token', `${portal}/sign-in/link?token=cs_no_such_token`]]) {
      seen.expect(400);
      let response = await page.goto(url, {waitUntil: 'load'});
      if (response.status() === 200) {  // the GET may show the form; the POST refuses
        check(await page.$('form#confirm'), `${what}: the GET answered 200 without form#confirm`);
        response = await submit(page, 'form#confirm');
      }
      expect(response.status() === 400, `${what}: answered ${statuses(response).join(' -> ')}, not 400`);
      expect(await page.$('.error'), `${what}: the 400 page has no .error`);
      expect(pathOf(page.url()) !== '/portal', `${what}: led to /portal`);
      const cookies = (await context.cookies()).filter((c) => c.name === 'recur_portal');
      expect(cookies.length === 0, `${what}: recur_portal was set`);
    }
    expect(seen.problems.length === 0, seen.problems.join('; '));
  } finally {
    await context.close();
  }
}

async function signingOutEndsTheSession(browser) {
  const page = need(state.page, 'signed in');
  const cookie = need(state.cookie, 'the session cookie');
  const seen = watch(page);
  await page.goto(portal, {waitUntil: 'load'});
  const response = await submit(page, 'form#sign-out');
  expect(statuses(response)[0] === 303, `the sign-out POST answered ${statuses(response).join(' -> ')}, not 303`);
  const after = await page.goto(portal, {waitUntil: 'load'});
  expect(statuses(after)[0] === 303 && pathOf(page.url()) === '/portal/sign-in',
      `after signing out /portal answered ${statuses(after).join(' -> ')} at ${page.url()}, not a 303 to /portal/sign-in`);
  expect(seen.problems.length === 0, seen.problems.join('; '));

  // The cookie kept from before opens nothing any more (the session ended on the server).
  const context = await browser.createBrowserContext();
  try {
    await context.setCookie({
      name: cookie.name, value: cookie.value, domain: cookie.domain, path: cookie.path,
      httpOnly: true, sameSite: 'Strict', secure: cookie.secure,
    });
    const other = await context.newPage();
    const replay = await other.goto(portal, {waitUntil: 'load'});
    expect(pathOf(other.url()) === '/portal/sign-in',
        `the signed-out session's cookie still opens /portal (${statuses(replay).join(' -> ')} at ${other.url()})`);
  } finally {
    await context.close();
  }
}

async function run(name, fn, browser) {
  soft = [];
  try {
    await fn(browser);
  } catch (e) {
    soft.push(e.message);
  }
  if (soft.length === 0) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}:\n       - ${soft.join('\n       - ')}`);
  }
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    await run('without a session every page sends to sign-in', withoutASessionEveryPageSendsToSignIn, browser);
    await run('the e-mailed link signs in, with an HttpOnly SameSite=Strict cookie', theEmailedLinkSignsIn, browser);
    await run('the overview shows the customer, the subscription and the invoice', theOverviewShowsTheCustomer, browser);
    await run('the subscription page shows its boxes and forms', theSubscriptionPageShowsItsBoxes, browser);
    await run('a POST without the csrf field is refused (403)', aPostWithoutTheCsrfFieldIsRefused, browser);
    await run('skipping the first box', skippingTheFirstBox, browser);
    await run('choosing what a box holds', choosingABox, browser);
    await run('accepting the retention offer instead of canceling', acceptingTheRetentionOffer, browser);
    await run('a used or unknown link signs nobody in', aUsedOrUnknownLinkSignsNobodyIn, browser);
    await run('signing out ends the session', signingOutEndsTheSession, browser);
  } finally {
    fs.writeFileSync(resultPath, JSON.stringify(result));
    await browser.close();
  }
  console.log(`portal: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
