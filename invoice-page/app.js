// Recur's hosted invoice page (/i#TOKEN): shows the invoices of a payment link, their status
// and what is due, and takes the customer's next step: confirming a charge their bank asked
// them to authenticate (3-D Secure), or paying with another payment method.
// The token comes in the URL's fragment, which the browser never sends to a server; the page
// moves it to sessionStorage (this tab only), takes it off the address bar, and sends it in
// request bodies only, never in a URL. Everything from the API goes into the page as DOM
// nodes and textContent, never as markup.
'use strict';

(() => {
  const TOKEN_STORE = 'recur.invoice.token';

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `the server answered ${status}`);
      this.status = status;
      this.code = problem && problem.code;
    }
  }

  async function post(path, body, accept = 'application/json') {
    let response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: {'Content-Type': 'application/json', Accept: accept},
        body: JSON.stringify(body),
        referrerPolicy: 'no-referrer',
      });
    } catch (e) {
      throw new Error(`the server did not answer (${e.message})`);
    }
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok)
      throw new ApiError(response.status, type.includes('json') ? await response.json().catch(() => null) : null);
    if (accept === 'application/pdf') return response.blob();
    return response.json();
  }

  // ------------------------------------------------------------------ the token

  function takeToken() {
    const fromLink = decodeURIComponent(window.location.hash.replace(/^#/, ''));
    if (fromLink) {
      sessionStorage.setItem(TOKEN_STORE, fromLink);
      // Off the address bar and out of the history entry: a copied URL carries no token.
      history.replaceState(null, '', window.location.pathname);
      return fromLink;
    }
    return sessionStorage.getItem(TOKEN_STORE) || '';
  }

  // ------------------------------------------------------------------ drawing

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === 'class')
        node.className = value;
      else if (name === 'text')
        node.textContent = value;
      else
        node.setAttribute(name, value);
    }
    for (const child of children)
      if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function status(text, kind = '') {
    $('status').textContent = text;
    $('status').className = kind;
  }

  // Minor units with the currency's own exponent (0 for JPY, 2 for USD ...).
  function money(amount, currency) {
    const code = String(currency || '').toUpperCase();
    try {
      const format = new Intl.NumberFormat(undefined, {style: 'currency', currency: code});
      const digits = format.resolvedOptions().maximumFractionDigits;
      return format.format(amount / 10 ** digits);
    } catch (e) {
      return `${amount} ${code}`;
    }
  }

  function party(heading, p) {
    return el(
        'div', {}, el('h3', {text: heading}), el('p', {text: p.name}), ...p.lines.map((line) => el('p', {text: line})));
  }

  // The number an invoice's document shows ("" for none).
  function invoiceNumber(d) {
    const fact = d.facts.find((f) => f.label === 'Invoice number');
    return fact && fact.value !== 'draft' ? fact.value : '';
  }

  function drawInvoice(page, token) {
    const d = page.document;
    const card = el('article', {class: 'card invoice', 'data-invoice': page.invoice});
    const title = el('h2', {text: d.title});
    title.append(el('span', {class: `badge ${page.status}`, text: page.status}));
    card.append(title);
    const facts = el('dl', {class: 'facts'});
    for (const f of d.facts) facts.append(el('dt', {text: f.label}), el('dd', {text: f.value}));
    card.append(facts, el('div', {class: 'parties'}, party('From', d.seller), party('Bill to', d.bill_to)));
    const table =
        el('table', {},
           el('thead', {},
              el('tr', {}, el('th', {text: 'Description'}), el('th', {class: 'number', text: 'Qty'}),
                 el('th', {class: 'number', text: 'Amount'}))));
    const body = el('tbody');
    for (const r of d.rows) {
      const what = el('td', {text: r.description});
      if (r.detail) what.append(el('span', {class: 'detail', text: r.detail}));
      body.append(el(
          'tr', {}, what, el('td', {class: 'number', text: r.quantity}), el('td', {class: 'number', text: r.amount})));
    }
    for (const t of d.totals) {
      body.append(
          el('tr', {class: t.strong ? 'strong total' : 'total'}, el('td', {text: t.label}), el('td'),
             el('td', {class: 'number', text: t.value})));
    }
    table.append(body);
    card.append(table);
    for (const n of d.notes) card.append(el('p', {class: 'note', text: n}));
    const pdf = el('button', {type: 'button', class: 'secondary pdf', text: 'Download PDF'});
    pdf.addEventListener('click', () => downloadPdf(token, page.invoice, pdf));
    card.append(el('div', {class: 'actions'}, pdf));
    return card;
  }

  async function downloadPdf(token, invoice, button) {
    button.disabled = true;
    try {
      const blob = await post('/v1/payment-updates/invoice-pdf', {token, invoice}, 'application/pdf');
      const link = el('a', {href: URL.createObjectURL(blob), download: `invoice-${invoice}.pdf`});
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (e) {
      status(`The PDF could not be made: ${e.message}`, 'failed');
    } finally {
      button.disabled = false;
    }
  }

  // One charge waiting for the customer's bank: its bank page (when the gateway gave one),
  // the sandbox's stand-in for that page in test mode, and the check that settles it.
  function drawWaitingCharge(charge, token, numbers) {
    const box = el('div', {class: 'waiting', 'data-payment': charge.payment});
    const invoice = numbers.get(charge.invoice) || charge.invoice;  // its number, as its PDF shows it
    box.append(el('p', {text: `${money(charge.amount, charge.currency)} for invoice ${invoice}`}));
    const actions = el('div', {class: 'actions'});
    if (charge.url) {
      actions.append(
          el('a', {href: charge.url, rel: 'noopener noreferrer', class: 'bank', text: 'Open your bank\'s page'}));
    }
    if (charge.gateway === 'sandbox') {
      for (const [result, label] of [['approve', 'Approve (test bank)'], ['fail', 'Fail (test bank)']]) {
        const b = el('button', {type: 'button', class: `secondary sandbox-${result}`, text: label});
        b.addEventListener('click', () => sandboxBank(charge, result, b));
        actions.append(b);
      }
    }
    const check = el('button', {type: 'button', class: 'confirm', text: 'I\'ve confirmed — check the payment'});
    check.addEventListener('click', () => confirmPayment(charge, token, check));
    actions.append(check);
    box.append(actions);
    return box;
  }

  async function sandboxBank(charge, result, button) {
    button.disabled = true;
    try {
      await post(`/v1/sandbox/charges/${encodeURIComponent(charge.gateway_reference)}/authenticate`, {result});
      status(
          result === 'approve' ? 'The test bank approved. Check the payment now.' :
                                 'The test bank refused. Check the payment now.');
    } catch (e) {
      status(`The test bank did not answer: ${e.message}`, 'failed');
    } finally {
      button.disabled = false;
    }
  }

  async function confirmPayment(charge, token, button) {
    button.disabled = true;
    try {
      const payment = await post(`/v1/payments/${encodeURIComponent(charge.payment)}/confirm`, {token});
      await load(token);
      if (payment.status === 'succeeded')
        status('Payment received. Thank you.', 'done');
      else if (payment.status === 'requires_action')
        status('Your bank has not confirmed the payment yet.', 'failed');
      else if (payment.status === 'failed') {
        status(
            `The payment failed${
                payment.decline_code ? ` (${payment.decline_code})` : ''}. You can pay with another payment method.`,
            'failed');
      } else
        status(`The payment is ${payment.status}.`);
    } catch (e) {
      status(`The payment could not be checked: ${e.message}`, 'failed');
    } finally {
      button.disabled = false;
    }
  }

  function draw(view, token) {
    const pages = view.documents || [];
    if (pages.length && pages[0].document.seller.name) $('shop').textContent = pages[0].document.seller.name;
    const due = (view.amount_due || []).filter((a) => a.amount > 0);
    $('due').hidden = false;
    $('due-amount').textContent =
        due.length ? due.map((a) => money(a.amount, a.currency)).join(' + ') : 'Nothing is due';
    $('due-customer').textContent = view.customer_name ? `For ${view.customer_name}` : '';
    const waiting = view.action_required || [];
    $('action').hidden = waiting.length === 0;
    const numbers = new Map(pages.map((p) => [p.invoice, invoiceNumber(p.document)]));
    $('action-list').replaceChildren(...waiting.map((c) => drawWaitingCharge(c, token, numbers)));
    $('invoices').replaceChildren(...pages.map((p) => drawInvoice(p, token)));
    $('update').hidden = due.length === 0;
  }

  async function load(token) {
    const view = await post('/v1/payment-updates/lookup', {token});
    draw(view, token);
    return view;
  }

  async function pay(event, token) {
    event.preventDefault();
    const button = $('update-form').querySelector('button');
    button.disabled = true;
    status('Paying…');
    try {
      const result = await post('/v1/payment-updates', {token, payment_method: $('payment-method').value.trim()});
      sessionStorage.removeItem(TOKEN_STORE);  // used: the link works once
      const rows = result.retry.invoices.map(
          (i) => el('li', {
            'data-invoice': i.id,
            text: `${i.id}: ${i.status}` + (i.amount_due > 0 ? `, ${money(i.amount_due, i.currency)} still due` : '')
          }));
      $('update-result').replaceChildren(el('ul', {}, ...rows));
      $('update-form').hidden = true;
      $('action').hidden = true;
      if (result.retry.still_open === 0)
        status('Payment received. Thank you.', 'done');
      else
        status('Your new payment method is saved, but not everything could be paid.', 'failed');
    } catch (e) {
      status(`The payment method was not accepted: ${e.message}`, 'failed');
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    const token = takeToken();
    if (!token) {
      status('This link is incomplete. Open the link from your e-mail again.', 'failed');
      return;
    }
    $('update-form').addEventListener('submit', (e) => pay(e, token));
    try {
      const view = await load(token);
      const open = (view.documents || []).some((p) => p.status === 'open');
      status(open ? 'This invoice is waiting for payment.' : 'Nothing is waiting for payment.', open ? '' : 'done');
    } catch (e) {
      if (e.code === 'payment_update_token_invalid') sessionStorage.removeItem(TOKEN_STORE);
      status(
          e.code === 'payment_update_token_invalid' ?
              'This link has expired or was already used. Ask the shop for a new one.' :
              `The invoice could not be loaded: ${e.message}`,
          'failed');
    }
  }

  start();
})();
