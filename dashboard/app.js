// The analytics dashboard: reads /v1/analytics/* with the analyst's API key and draws each
// report as inline SVG. Everything from the API goes into the page as DOM nodes, attributes
// and textContent, never as markup, so a hostile plan name or reason is only ever text.
// The key lives in sessionStorage (this tab, until it closes), never in localStorage or a URL.
'use strict';

(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const KEY_STORE = 'recur.dashboard.key';
  const WIDTH = 720;
  const HEIGHT = 340;
  const INK = '#212121';
  const MUTED = '#616161';
  const GRID = '#e0e0e0';
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, problem) {
      const code = problem && problem.code ? ` ${problem.code}` : '';
      const detail = problem && (problem.detail || problem.title);
      super(`${status}${code}${detail ? `: ${detail}` : ''}`);
      this.status = status;
    }
  }

  // GET a report's JSON with the key; a problem document becomes an ApiError.
  async function getJson(report, params, key) {
    const url = `/v1/analytics/${report}?${new URLSearchParams(params)}`;
    let response;
    try {
      response = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: 'application/json' } });
    } catch (e) {
      throw new Error(`the server did not answer (${e.message})`);
    }
    const type = response.headers.get('Content-Type') || '';
    const body = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, body);
    if (body === null || typeof body !== 'object') throw new Error(`${report} did not answer JSON`);
    return body;
  }

  // The server's own rendering of a report (Accept: text/csv or image/svg+xml), saved as a file.
  async function download(report, params, key, type, extension) {
    const url = `/v1/analytics/${report}?${new URLSearchParams(params)}`;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${key}`, Accept: type } });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const blob = await response.blob();
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${report}.${extension}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // ------------------------------------------------------------------ numbers and dates

  // Minor-unit exponents from the browser's ISO 4217 data (2 when it does not know the code).
  function exponentOf(currency) {
    try {
      return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    } catch {
      return 2;
    }
  }

  // 12345 at exponent 2 -> "123.45", exactly (integer arithmetic on the digits).
  function majorUnits(minor, exponent) {
    const negative = minor < 0;
    let digits = String(Math.abs(Math.round(minor)));
    if (exponent > 0) {
      digits = digits.padStart(exponent + 1, '0');
      digits = `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
    }
    return negative ? `-${digits}` : digits;
  }

  function money(minor, currency) {
    if (typeof minor !== 'number') return '–';
    const exponent = exponentOf(currency);
    try {
      return new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: exponent })
        .format(Number(majorUnits(minor, exponent)));
    } catch {
      return `${majorUnits(minor, exponent)} ${currency.toUpperCase()}`;
    }
  }

  const percent = (rate, digits = 1) => (typeof rate === 'number' ? `${(rate * 100).toFixed(digits)}%` : '–');
  const dateOf = (rfc3339) => (typeof rfc3339 === 'string' ? rfc3339.slice(0, 10) : '');
  const num = (v) => (Math.abs(v) < 0.05 ? '0' : v.toFixed(1));
  const numberOr = (v, fallback) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const rowsOf = (body) => (Array.isArray(body && body.data) ? body.data.filter((r) => r && typeof r === 'object') : []);

  // ------------------------------------------------------------------ SVG pieces

  function el(name, attrs = {}, parent = null, text = null) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== null) node.textContent = text;
    if (parent) parent.append(node);
    return node;
  }

  function tooltip(node, text) {
    if (text) el('title', {}, node, text);
    return node;
  }

  function label(parent, x, y, text, { anchor = 'start', size = 11, fill = INK, bold = false, rotate = 0 } = {}) {
    const attrs = { x: num(x), y: num(y), 'text-anchor': anchor, 'font-size': size, fill };
    if (bold) attrs['font-weight'] = 'bold';
    if (rotate) attrs.transform = `rotate(${rotate} ${num(x)} ${num(y)})`;
    return el('text', attrs, parent, text);
  }

  // Shortened to `max` characters with an ellipsis.
  const shortened = (text, max) => {
    const chars = Array.from(String(text));
    return chars.length > max ? `${chars.slice(0, max).join('')}…` : chars.join('');
  };

  // A fresh chart in `container`: the title, the legend, and the plot's box below them.
  function chart(container, title, legendItems, { height = HEIGHT, left = 72 } = {}) {
    container.replaceChildren();
    const svg = el('svg', {
      xmlns: SVG_NS, width: WIDTH, height, viewBox: `0 0 ${WIDTH} ${height}`, role: 'img',
      'aria-label': title, 'font-family': 'sans-serif', 'font-size': 11,
    }, container);
    el('title', {}, svg, title);
    label(svg, 16, 22, title, { size: 14, bold: true });
    let x = 16;
    let y = 42;
    for (const item of legendItems) {
      const text = shortened(item.label, 32);
      const w = 14 + 6.5 * text.length + 16;
      if (x + w > WIDTH - 16 && x > 16) { x = 16; y += 16; }
      if (item.line) el('rect', { class: 'swatch', x, y: y - 5, width: 12, height: 3, fill: item.color }, svg);
      else el('rect', { class: 'swatch', x, y: y - 9, width: 10, height: 10, fill: item.color }, svg);
      label(svg, x + 16, y, text, { fill: MUTED });
      x += w;
    }
    const top = (legendItems.length ? y + 8 : 42) + 14;
    return { svg, plot: { left, top, right: WIDTH - 24, bottom: height - 44 } };
  }

  function noData(c, text = 'No data') {
    label(c.svg, (c.plot.left + c.plot.right) / 2, (c.plot.top + c.plot.bottom) / 2, text,
      { anchor: 'middle', size: 13, fill: MUTED });
  }

  function scale(d0, d1, r0, r1) {
    return (v) => (d1 === d0 ? r0 : r0 + ((v - d0) * (r1 - r0)) / (d1 - d0));
  }

  // About five ticks at 1, 2 or 5 x 10^k covering [lo, hi]; integral: steps of at least 1.
  function niceTicks(lo, hi, integral) {
    if (!(lo <= hi)) [lo, hi] = [Math.min(lo, hi) || 0, Math.max(lo, hi) || 1];
    if (hi - lo < 1e-12) hi = lo + (integral || lo !== 0 ? Math.max(1, Math.abs(lo)) : 1);
    const raw = (hi - lo) / 5;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const n = raw / magnitude;
    let step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * magnitude;
    if (integral) step = Math.max(step, 1);
    const t = { lo: Math.floor(lo / step) * step, hi: Math.ceil(hi / step) * step, step, values: [] };
    for (let i = 0; i <= 50; i += 1) {
      const v = t.lo + i * step;
      if (v > t.hi + step / 2) break;
      t.values.push(v);
    }
    return t;
  }

  // How an axis shows values: amounts in major units, shares as percent, counts, scores.
  const formats = {
    amount: (exponent) => ({ integral: true, text: (v) => majorUnits(v, exponent) }),
    share: { integral: false, text: (v, step) => `${(v * 100).toFixed(step * 100 >= 1 ? 0 : 1)}%` },
    count: { integral: true, text: (v) => v.toFixed(0) },
    days: { integral: false, text: (v, step) => (step >= 1 ? v.toFixed(0) : String(v)) },
    score: { integral: false, text: (v) => v.toFixed(2) },
  };

  function valueAxisY(c, lo, hi, format, title) {
    const t = niceTicks(lo, hi, format.integral);
    const y = scale(t.lo, t.hi, c.plot.bottom, c.plot.top);
    for (const v of t.values) {
      el('line', { x1: c.plot.left, y1: num(y(v)), x2: c.plot.right, y2: num(y(v)), stroke: GRID }, c.svg);
      label(c.svg, c.plot.left - 6, y(v) + 4, format.text(v, t.step), { anchor: 'end', fill: MUTED });
    }
    label(c.svg, 14, (c.plot.top + c.plot.bottom) / 2, title, { anchor: 'middle', fill: MUTED, rotate: -90 });
    return y;
  }

  function valueAxisX(c, lo, hi, format, title) {
    const t = niceTicks(lo, hi, format.integral);
    const x = scale(t.lo, t.hi, c.plot.left, c.plot.right);
    for (const v of t.values) {
      el('line', { x1: num(x(v)), y1: c.plot.top, x2: num(x(v)), y2: c.plot.bottom, stroke: GRID }, c.svg);
      label(c.svg, x(v), c.plot.bottom + 16, format.text(v, t.step), { anchor: 'middle', fill: MUTED });
    }
    label(c.svg, (c.plot.left + c.plot.right) / 2, c.plot.bottom + 34, title, { anchor: 'middle', fill: MUTED });
    return x;
  }

  // Periods side by side along the bottom, labelled with their dates, as many labels as fit.
  function bandAxisX(c, labels, title) {
    const width = (c.plot.right - c.plot.left) / Math.max(1, labels.length);
    const bands = { width, start: (i) => c.plot.left + width * i, center: (i) => c.plot.left + width * (i + 0.5) };
    el('line', { x1: c.plot.left, y1: c.plot.bottom, x2: c.plot.right, y2: c.plot.bottom, stroke: MUTED }, c.svg);
    const fit = Math.max(1, Math.floor((c.plot.right - c.plot.left) / 76));
    const every = Math.max(1, Math.ceil(labels.length / fit));
    for (let i = 0; i < labels.length; i += every) {
      label(c.svg, bands.center(i), c.plot.bottom + 16, labels[i], { anchor: 'middle', fill: MUTED });
    }
    label(c.svg, (c.plot.left + c.plot.right) / 2, c.plot.bottom + 34, title, { anchor: 'middle', fill: MUTED });
    return bands;
  }

  // Points joined by a line, broken at nulls; a dot on each known point.
  function lineSeries(c, points, color) {
    let d = '';
    let open = false;
    let joined = false;
    for (const p of points) {
      if (p.y === null) { open = false; continue; }
      joined = joined || open;
      d += `${open ? 'L' : 'M'}${num(p.x)} ${num(p.y)} `;
      open = true;
    }
    if (joined) el('path', { class: 'mark line', d: d.trim(), stroke: color, 'stroke-width': 2, fill: 'none' }, c.svg);
    for (const p of points) {
      if (p.y !== null) tooltip(el('circle', { class: 'mark dot', cx: num(p.x), cy: num(p.y), r: 3, fill: color }, c.svg), p.tip);
    }
  }

  // A part of a stacked bar from `base`, upward (+1) or downward (-1); returns the new base.
  function stack(c, y, x, width, base, value, direction, color, tip) {
    if (!(value > 0)) return base;
    const end = base + direction * value;
    const rect = el('rect', {
      class: 'mark bar', x: num(x), y: num(Math.min(y(base), y(end))), width: num(width),
      height: num(Math.abs(y(end) - y(base))), fill: color,
    }, c.svg);
    tooltip(rect, tip);
    return end;
  }

  // ------------------------------------------------------------------ the charts

  // MRR at the end of each period (the movements' mrr_end), and the current figures.
  function drawMrr(container, figures, current, movements, currency) {
    figures.replaceChildren();
    const figure = (value, text) => {
      const box = document.createElement('div');
      box.className = 'figure';
      const v = document.createElement('div');
      v.className = 'value';
      v.textContent = value;
      const l = document.createElement('div');
      l.className = 'label';
      l.textContent = text;
      box.append(v, l);
      figures.append(box);
    };
    figure(money(current.mrr, currency), `MRR on ${dateOf(current.at)}`);
    figure(money(current.arr, currency), 'ARR');
    figure(money(current.arpa, currency), 'ARPA');
    figure(typeof current.customers === 'number' ? String(current.customers) : '–', 'customers');
    figure(typeof current.subscriptions === 'number' ? String(current.subscriptions) : '–', 'subscriptions');

    const exponent = exponentOf(currency);
    // The line is MRR at each period's end; without periods, today's figure alone (a dot).
    const points = rowsOf(movements).map((r) => ({ date: dateOf(r.period_end || r.period_start), mrr: r.mrr_end }));
    if (!points.length && typeof current.mrr === 'number') points.push({ date: dateOf(current.at), mrr: current.mrr });
    const c = chart(container, `MRR (${currency.toUpperCase()})`, [{ label: 'MRR', color: PALETTE[0], line: true }]);
    const hi = Math.max(0, ...points.map((p) => numberOr(p.mrr, 0)));
    const y = valueAxisY(c, 0, hi, formats.amount(exponent), currency.toUpperCase());
    const x = bandAxisX(c, points.map((p) => p.date), 'date');
    if (!points.length) noData(c);
    lineSeries(c, points.map((p, i) => ({
      x: x.center(i), y: typeof p.mrr === 'number' ? y(p.mrr) : null, tip: `${p.date}: ${money(p.mrr, currency)}`,
    })), PALETTE[0]);
  }

  const UP = [['new', 'new', '#2e7d32'], ['expansion', 'expansion', '#81c784'], ['reactivation', 'reactivation', '#00897b']];
  const DOWN = [['contraction', 'contraction', '#fb8c00'], ['churn', 'churn', '#c62828']];

  function drawMovements(container, body, currency) {
    const rows = rowsOf(body);
    const exponent = exponentOf(currency);
    const legend = [...UP, ...DOWN].map(([, l, color]) => ({ label: l, color }));
    legend.push({ label: 'net', color: INK, line: true });
    const c = chart(container, `MRR movements (${currency.toUpperCase()})`, legend);
    const sums = rows.map((r) => ({
      up: UP.reduce((s, [k]) => s + Math.abs(numberOr(r[k], 0)), 0),
      down: DOWN.reduce((s, [k]) => s + Math.abs(numberOr(r[k], 0)), 0),
    }));
    const lo = Math.min(0, ...sums.map((s) => Math.min(-s.down, s.up - s.down)));
    const hi = Math.max(0, ...sums.map((s) => Math.max(s.up, s.up - s.down)));
    const y = valueAxisY(c, lo, hi, formats.amount(exponent), currency.toUpperCase());
    const x = bandAxisX(c, rows.map((r) => dateOf(r.period_start)), 'period start');
    if (!rows.length) noData(c);
    el('line', { x1: c.plot.left, y1: num(y(0)), x2: c.plot.right, y2: num(y(0)), stroke: MUTED }, c.svg);
    rows.forEach((r, i) => {
      const date = dateOf(r.period_start);
      for (const [parts, direction] of [[UP, 1], [DOWN, -1]]) {
        let base = 0;
        for (const [key, l, color] of parts) {
          const v = Math.abs(numberOr(r[key], 0));
          base = stack(c, y, x.start(i) + x.width * 0.2, x.width * 0.6, base, v, direction, color,
            `${date} ${l}: ${majorUnits(direction * v, exponent)}`);
        }
      }
    });
    lineSeries(c, rows.map((r, i) => {
      const net = sums[i].up - sums[i].down;
      return { x: x.center(i), y: y(net), tip: `${dateOf(r.period_start)} net: ${majorUnits(net, exponent)}` };
    }), INK);
  }

  function drawChurn(container, body) {
    const series = [['customer_churn_rate', 'customer churn rate', '#1f77b4'], ['gross_mrr_churn_rate', 'gross MRR churn rate', '#d62728']];
    const rows = rowsOf(body);
    const c = chart(container, 'Churn', series.map(([, l, color]) => ({ label: l, color, line: true })));
    const known = rows.flatMap((r) => series.map(([k]) => r[k]).filter((v) => typeof v === 'number'));
    const hi = Math.max(0, ...known);
    const y = valueAxisY(c, Math.min(0, ...known), hi === 0 ? 0.1 : hi, formats.share, 'rate');
    const x = bandAxisX(c, rows.map((r) => dateOf(r.period_start)), 'period start');
    if (!known.length) noData(c, rows.length ? 'No churn rate yet (no customers at the periods\u2019 start)' : 'No data');
    for (const [key, l, color] of series) {
      lineSeries(c, rows.map((r, i) => ({
        x: x.center(i), y: typeof r[key] === 'number' ? y(r[key]) : null, tip: `${dateOf(r.period_start)} ${l}: ${percent(r[key])}`,
      })), color);
    }
  }

  // White to dark blue by share (0..1).
  function shade(share) {
    const s = Math.min(1, Math.max(0, share));
    const mix = (from, to) => Math.round(from + (to - from) * s).toString(16).padStart(2, '0');
    return `#${mix(0xf7, 0x08)}${mix(0xfb, 0x30)}${mix(0xff, 0x6b)}`;
  }

  // Cohorts without customers are left out: a year of weekly cohorts is otherwise mostly empty rows.
  function drawCohorts(container, body) {
    const rows = rowsOf(body).filter((r) => r.customers !== 0);
    const periodsOf = (r) => (Array.isArray(r.periods) ? r.periods.filter((p) => p && typeof p === 'object') : []);
    const columns = Math.max(0, ...rows.map((r) => periodsOf(r).length));
    const cell = 22;
    const c = chart(container, 'Retention by cohort',
      [{ label: '0%', color: shade(0) }, { label: '50%', color: shade(0.5) }, { label: '100%', color: shade(1) }],
      { height: 140 + cell * Math.max(1, rows.length), left: 96 });
    c.plot.top += 18;
    const cellWidth = columns ? Math.min(64, (c.plot.right - c.plot.left) / columns) : 0;
    const texts = cellWidth >= 30; // narrower cells keep their value in the tooltip only
    const every = Math.ceil(18 / Math.max(cellWidth, 1));
    label(c.svg, c.plot.left, c.plot.top - 20, 'periods since start', { fill: MUTED });
    for (let j = 0; j < columns; j += every) {
      label(c.svg, c.plot.left + cellWidth * (j + 0.5), c.plot.top - 5, String(j), { anchor: 'middle', fill: MUTED });
    }
    label(c.svg, 14, c.plot.top + (cell * rows.length) / 2, 'cohort', { anchor: 'middle', fill: MUTED, rotate: -90 });
    if (!columns) noData(c);
    rows.forEach((r, i) => {
      const top = c.plot.top + cell * i;
      const cohort = dateOf(r.cohort_start);
      label(c.svg, c.plot.left - 6, top + cell / 2 + 4, cohort, { anchor: 'end', fill: MUTED });
      periodsOf(r).forEach((p, j) => {
        const left = c.plot.left + cellWidth * j;
        const known = typeof p.retention === 'number';
        const text = known ? percent(p.retention, 0) : '–';
        tooltip(el('rect', {
          class: 'mark cell', x: num(left + 1), y: num(top + 1), width: num(Math.max(0, cellWidth - 2)), height: cell - 2,
          fill: known ? shade(p.retention) : '#eeeeee',
        }, c.svg), `cohort ${cohort}, period ${j}: ${text}`);
        if (!texts) return;
        label(c.svg, left + cellWidth / 2, top + cell / 2 + 4, text,
          { anchor: 'middle', size: 10, fill: known && p.retention > 0.55 ? '#ffffff' : INK });
      });
    });
  }

  // The corners of a step function: each value held until the next step's day.
  function stepPoints(steps, key) {
    const points = [];
    for (const s of steps) {
      const day = numberOr(s.days, 0);
      const v = numberOr(s[key], points.length ? points[points.length - 1][1] : 1);
      if (points.length) points.push([day, points[points.length - 1][1]]);
      points.push([day, v]);
    }
    return points;
  }

  function drawSurvival(container, body) {
    const rows = rowsOf(body);
    const stepsOf = (r) => (Array.isArray(r.steps) ? r.steps.filter((s) => s && typeof s === 'object') : [])
      .sort((a, b) => numberOr(a.days, 0) - numberOr(b.days, 0));
    const legend = rows.map((r, i) => ({ label: r.group ? String(r.group) : 'all', color: PALETTE[i % PALETTE.length], line: true }));
    if (rows.length) legend.push({ label: '95% band', color: '#bdbdbd' });
    const c = chart(container, 'Survival', legend);
    const maxDays = Math.max(0, ...rows.flatMap((r) => stepsOf(r).map((s) => numberOr(s.days, 0))));
    const y = valueAxisY(c, 0, 1, formats.share, 'surviving');
    const x = valueAxisX(c, 0, maxDays || 30, formats.days, 'days since start');
    const at = ([d, v]) => `${num(x(d))} ${num(y(v))}`;
    let any = false;
    rows.forEach((r, i) => {
      const steps = stepsOf(r);
      if (!steps.length) return;
      any = true;
      const color = PALETTE[i % PALETTE.length];
      if (steps.length > 1) {
        const upper = stepPoints(steps, 'upper');
        const lower = stepPoints(steps, 'lower').reverse();
        const d = `M${[...upper, ...lower].map(at).join(' L')} Z`;
        el('path', { class: 'mark band', d, stroke: 'none', fill: color, 'fill-opacity': 0.18 }, c.svg);
      }
      const curve = stepPoints(steps, 'survival');
      const label_ = r.group ? String(r.group) : 'all';
      tooltip(el('path', { class: 'mark step', d: `M${curve.map(at).join(' L')}`, stroke: color, 'stroke-width': 2, fill: 'none' }, c.svg),
        `${label_}: ${numberOr(r.subscriptions, 0)} subscriptions, ${numberOr(r.ended, 0)} ended`);
      if (steps.length === 1) el('circle', { class: 'mark dot', cx: num(x(curve[0][0])), cy: num(y(curve[0][1])), r: 3, fill: color }, c.svg);
    });
    if (!any) noData(c);
  }

  // One horizontal bar per labelled value, largest first, at most 50.
  function horizontalBars(container, title, series, bars, format, axisTitle) {
    const row = 22;
    const shown = [...bars].sort((a, b) => b.value - a.value).slice(0, 50);
    const c = chart(container, title, [{ label: series, color: PALETTE[0] }], { height: 130 + row * Math.max(1, shown.length), left: 216 });
    const hi = Math.max(format === formats.score ? 1 : 0, ...shown.map((b) => b.value));
    const x = valueAxisX(c, 0, hi, format, axisTitle);
    if (!shown.length) noData(c);
    shown.forEach((b, i) => {
      const top = c.plot.top + row * i;
      const value = format.text(b.value, format === formats.count ? 1 : 0.01);
      label(c.svg, c.plot.left - 6, top + row / 2 + 4, shortened(b.label, 30), { anchor: 'end' });
      tooltip(el('rect', {
        class: 'mark bar', x: num(x(0)), y: num(top + 3), width: num(Math.max(0, x(b.value) - x(0))), height: row - 6, fill: PALETTE[0],
      }, c.svg), `${b.label}: ${value}`);
      label(c.svg, x(b.value) + 4, top + row / 2 + 4, value, { fill: MUTED });
    });
  }

  function drawCancellations(container, body) {
    const byReason = new Map();
    for (const r of rowsOf(body)) {
      const reason = r.reason ? String(r.reason) : '(no reason)';
      byReason.set(reason, (byReason.get(reason) || 0) + numberOr(r.cancellations, 0));
    }
    const bars = [...byReason.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([l, value]) => ({ label: l, value }));
    horizontalBars(container, 'Cancellations by reason', 'cancellations', bars, formats.count, 'cancellations');
  }

  function drawAtRisk(container, table, body) {
    const rows = rowsOf(body);
    const model = body.model && body.model.name ? ` (${body.model.name})` : '';
    horizontalBars(container, `Subscriptions at risk${model}`, 'risk score',
      rows.map((r) => ({ label: String(r.subscription || ''), value: numberOr(r.score, 0) })), formats.score, 'score');
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = tbody.insertRow();
      const cells = [
        [r.subscription, false], [r.customer, false], [r.plan, false],
        [money(r.mrr, String(r.currency || 'usd')), true], [typeof r.score === 'number' ? r.score.toFixed(2) : '–', true],
        [Array.isArray(r.reasons) ? r.reasons.join(', ') : '', false],
      ];
      for (const [text, number] of cells) {
        const td = tr.insertCell();
        td.textContent = text === undefined || text === null ? '' : String(text);
        if (number) td.className = 'number';
      }
    }
    table.hidden = rows.length === 0;
  }

  // ------------------------------------------------------------------ the page

  const $ = (selector) => document.querySelector(selector);
  const card = (report) => document.querySelector(`.card[data-report="${report}"]`);

  function setError(report, error) {
    const box = card(report);
    box.classList.toggle('failed', Boolean(error));
    const p = box.querySelector('.error');
    p.hidden = !error;
    p.textContent = error ? `Could not load ${report}: ${error.message}` : '';
    if (error) box.querySelector('.chart').replaceChildren();
  }

  // What the form asks for, as each endpoint's query.
  function settings() {
    const currency = $('#currency').value.trim().toLowerCase();
    const range = { from: $('#from').value, to: $('#to').value };
    const interval = $('#interval').value;
    return {
      currency,
      queries: {
        mrr: { currency },
        'mrr-movements': { currency, ...range, interval },
        churn: { currency, ...range, interval },
        cohorts: { currency, ...range, interval },
        survival: { currency, group_by: 'plan' },
        cancellations: { currency, ...range, interval },
        'at-risk': { currency, limit: 50 },
      },
    };
  }

  // Each card loads on its own: one failing endpoint shows its error and the others draw.
  async function load(key) {
    const { currency, queries } = settings();
    const status = $('#status');
    status.classList.remove('failed');
    status.textContent = 'Loading…';
    for (const box of document.querySelectorAll('.card')) box.classList.add('loading');
    const fetched = {};
    for (const report of Object.keys(queries)) fetched[report] = getJson(report, queries[report], key);
    const draw = {
      mrr: async () => drawMrr($('#chart-mrr'), $('#mrr-figures'), await fetched.mrr,
        await fetched['mrr-movements'].catch(() => ({ data: [] })), currency),
      'mrr-movements': async () => drawMovements($('#chart-movements'), await fetched['mrr-movements'], currency),
      churn: async () => drawChurn($('#chart-churn'), await fetched.churn),
      cohorts: async () => drawCohorts($('#chart-cohorts'), await fetched.cohorts),
      survival: async () => drawSurvival($('#chart-survival'), await fetched.survival),
      cancellations: async () => drawCancellations($('#chart-cancellations'), await fetched.cancellations),
      'at-risk': async () => drawAtRisk($('#chart-at-risk'), $('#at-risk-table'), await fetched['at-risk']),
    };
    const outcomes = await Promise.all(Object.entries(draw).map(async ([report, run]) => {
      try {
        await run();
        setError(report, null);
        return null;
      } catch (error) {
        setError(report, error);
        return { report, error };
      } finally {
        card(report).classList.remove('loading');
      }
    }));
    const failed = outcomes.filter(Boolean);
    if (failed.some((f) => f.error.status === 401)) sessionStorage.removeItem(KEY_STORE);
    status.classList.toggle('failed', failed.length > 0);
    status.textContent = failed.length
      ? `${failed.length} of ${outcomes.length} reports could not be loaded: ${failed.map((f) => f.report).join(', ')}.`
      : `Loaded ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`;
    document.body.dataset.state = failed.length ? 'partial' : 'loaded';
  }

  // Buttons on each card for the server's own CSV and SVG of the report.
  function addDownloads() {
    for (const box of document.querySelectorAll('.card')) {
      const report = box.dataset.report;
      const actions = document.createElement('div');
      actions.className = 'actions';
      for (const [text, type, extension] of [['CSV', 'text/csv', 'csv'], ['SVG', 'image/svg+xml', 'svg']]) {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = text;
        button.title = `Download the ${report} report as ${text}`;
        button.addEventListener('click', () => {
          const key = sessionStorage.getItem(KEY_STORE);
          if (!key) return;
          download(report, settings().queries[report], key, type, extension).catch((error) => setError(report, error));
        });
        actions.append(button);
      }
      box.querySelector('h2').before(actions);
    }
  }

  function isoDay(date) {
    return date.toISOString().slice(0, 10);
  }

  function start() {
    const today = new Date();
    const tomorrow = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1));
    const yearAgo = new Date(Date.UTC(today.getUTCFullYear() - 1, today.getUTCMonth() + 1, 1));
    $('#from').value = isoDay(yearAgo);
    $('#to').value = isoDay(tomorrow);
    addDownloads();
    $('#settings').addEventListener('submit', (event) => {
      event.preventDefault();
      const key = $('#api-key').value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      load(key);
    });
    $('#forget').addEventListener('click', () => {
      sessionStorage.removeItem(KEY_STORE);
      $('#api-key').value = '';
      $('#status').textContent = 'Key forgotten.';
    });
    const saved = sessionStorage.getItem(KEY_STORE);
    if (saved) {
      $('#api-key').value = saved;
      load(saved);
    }
  }

  start();
})();
