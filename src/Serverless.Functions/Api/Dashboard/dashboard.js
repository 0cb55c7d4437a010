'use strict';
(() => {
  // The API key the page was opened with (?code=KEY): kept in this variable only, never in storage or a cookie, and sent
  // on every API call as the x-functions-key header.
  const apiKey = new URLSearchParams(location.search).get('code');

  /** Committing or Aborting for longer than this after the decision: phase 2 is stuck (a participant is not answering). */
  const phase2StuckMs = 60_000;
  const refreshMs = 5_000;

  const byId = id => document.getElementById(id);
  const ui = {
    status: byId('status-filter'), size: byId('page-size'), refresh: byId('refresh'), auto: byId('auto-refresh'),
    summary: byId('summary'), message: byId('message'), rows: byId('rows'),
    first: byId('first-page'), previous: byId('previous-page'), next: byId('next-page'), pageNumber: byId('page-number'),
  };

  // tokens[i] is the continuation token that fetches page i (null for the first page).
  const paging = { tokens: [null], page: 0, next: null };
  let loadSequence = 0;
  let timer = 0;

  /** Creates an element; every value goes in as text (textContent), never as markup. */
  function h(tag, props = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null) continue;
      if (name === 'text') element.textContent = value;
      else if (name === 'className') element.className = value;
      else element.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) element.append(child);
    }
    return element;
  }

  async function api(path, init = {}) {
    const headers = new Headers(init.headers);
    headers.set('accept', 'application/json');
    if (apiKey) headers.set('x-functions-key', apiKey);
    const response = await fetch(path, { ...init, headers, cache: 'no-store', credentials: 'omit' });
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch { body = null; }
    return { response, body };
  }

  function problemText(response, body) {
    if (response.status === 401) return 'The API key is missing or wrong: open the page as /api/dashboard?code=YOUR_KEY.';
    const detail = body && (body.detail || body.title);
    return `${response.status} ${detail || response.statusText || 'request failed'}`;
  }

  function showMessage(text, kind = 'error') {
    ui.message.textContent = text;
    ui.message.className = kind === 'error' ? 'message' : 'message info';
    ui.message.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    ui.message.hidden = false;
  }

  function clearMessage() {
    ui.message.hidden = true;
    ui.message.textContent = '';
  }

  const time = iso => (iso ? new Date(iso).toISOString().slice(0, 19).replace('T', ' ') : null);

  function duration(ms) {
    const s = Math.round(ms / 1000);
    if (s < 120) return `${s} s`;
    const m = Math.round(s / 60);
    return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
  }

  /** What is in doubt or stuck about a transaction, and which of its branches still hold a reservation. */
  function assess(tx, now) {
    const flags = [];
    const deadline = Date.parse(tx.deadline ?? '');
    const decided = Date.parse(tx.decidedAt ?? '');
    let overdue = false;
    if (tx.status === 'Preparing' && now > deadline) {
      flags.push(`past its vote deadline by ${duration(now - deadline)}`);
      overdue = true;
    }
    if ((tx.status === 'Committing' || tx.status === 'Aborting') && now - decided > phase2StuckMs) {
      flags.push(`${tx.status} for ${duration(now - decided)} after the decision`);
      overdue = true;
    }
    if (/orchestration (failed|was terminated|was canceled)|presumed abort/i.test(tx.reason ?? '')) {
      flags.push('in doubt: the orchestration ended without finishing; in-doubt resolution finishes it');
      overdue = true;
    }

    const expected = tx.decision === 'Commit' ? 'Committed' : tx.decision === 'Abort' ? 'RolledBack' : null;
    const branches = (tx.participants ?? []).map(b => ({
      ...b,
      holding: overdue && b.vote === 'Yes' && !b.outcome && b.kind !== 'saga',
      against: Boolean(b.outcome) && b.outcome !== expected,
      compensationFailing: Boolean(b.heuristic),
    }));
    const holding = branches.filter(b => b.holding).length;
    if (holding > 0) flags.push(`${holding} branch${holding === 1 ? '' : 'es'} still holding a reservation`);
    if (branches.some(b => b.against)) flags.push('heuristic outcome: a branch finished against the decision');
    if (branches.some(b => b.compensationFailing)) flags.push('heuristic outcome: a saga compensation keeps failing; its action\'s effect remains until a retry succeeds');
    return { flags, branches };
  }

  const badge = (kind, value) => (value ? h('span', { className: `badge ${kind}-${value}`, text: value }) : h('span', { className: 'none', text: '—' }));

  function branchTable(tx, branches) {
    return h('table', { className: 'branches' },
      h('caption', { className: 'visually-hidden', text: `Branches of ${tx.id}` }),
      h('thead', {}, h('tr', {},
        ['#', 'Participant', 'Kind', 'Vote', 'Outcome', 'Reason'].map(name => h('th', { scope: 'col', text: name })))),
      h('tbody', {}, branches.map((b, i) => h('tr', {
        className: b.against || b.compensationFailing ? 'heuristic' : b.holding ? 'holding' : null,
        title: b.against || b.compensationFailing ? 'heuristic outcome' : b.holding ? 'holding a reservation past its time' : null,
      },
        h('td', { text: String(i + 1) }),
        h('td', { text: b.participant }),
        h('td', { text: b.kind ?? '2pc' }),
        h('td', {}, badge('v', b.vote)),
        h('td', {}, badge('o', b.outcome)),
        h('td', { className: 'reason', text: [b.reason, b.heuristic].filter(Boolean).join(' — ') })))));
  }

  function row(tx, now) {
    const { flags, branches } = assess(tx, now);
    const abort = tx.status === 'Preparing'
      ? h('button', { type: 'button', className: 'abort', 'aria-label': `Abort transaction ${tx.id}`, text: 'Abort' })
      : null;
    abort?.addEventListener('click', () => abortTransaction(tx.id, abort));
    const times = h('div', { className: 'times' },
      h('span', { text: `created ${time(tx.createdAt)}` }),
      tx.status === 'Preparing' && tx.deadline ? h('span', { text: `deadline ${time(tx.deadline)}` }) : null,
      tx.decidedAt ? h('span', { text: `decided ${time(tx.decidedAt)}` }) : null,
      tx.completedAt ? h('span', { text: `completed ${time(tx.completedAt)}` }) : null);
    return h('tr', { className: flags.length > 0 ? 'stuck' : null, 'data-id': tx.id, 'data-status': tx.status },
      h('td', {},
        h('div', { className: 'id', text: tx.id }),
        flags.length > 0 ? h('ul', { className: 'flags', 'aria-label': 'Problems' }, flags.map(f => h('li', { text: f }))) : null),
      h('td', {}, badge('s', tx.status)),
      h('td', { text: tx.decision ?? '—' }),
      h('td', {}, times),
      h('td', {}, branchTable(tx, branches)),
      h('td', { className: 'reason', text: tx.reason ?? '' }),
      h('td', {}, abort));
  }

  function render(items) {
    const now = Date.now();
    const rows = items.map(tx => row(tx, now));
    if (rows.length === 0) {
      rows.push(h('tr', {}, h('td', { className: 'empty', colspan: '7', text: 'No transactions on this page.' })));
    }
    ui.rows.replaceChildren(...rows);
    const stuck = items.filter(tx => assess(tx, now).flags.length > 0).length;
    ui.summary.textContent = `${items.length} transaction${items.length === 1 ? '' : 's'} on this page` +
      (stuck > 0 ? `; ${stuck} in doubt or stuck (highlighted)` : '; none in doubt or stuck') + `. Updated ${time(new Date(now).toISOString())} UTC.`;
    ui.summary.className = stuck > 0 ? 'summary alarm' : 'summary';
    ui.pageNumber.textContent = `Page ${paging.page + 1}`;
    ui.first.disabled = ui.previous.disabled = paging.page === 0;
    ui.next.disabled = !paging.next;
  }

  async function load() {
    const sequence = ++loadSequence;
    const query = new URLSearchParams();
    if (ui.status.value) query.set('status', ui.status.value);
    query.set('top', ui.size.value);
    const token = paging.tokens[paging.page];
    if (token) query.set('continuationToken', token);
    try {
      const { response, body } = await api(`transactions?${query}`);
      if (sequence !== loadSequence) return;
      if (!response.ok) {
        showMessage(problemText(response, body));
        return;
      }
      if (!ui.message.classList.contains('info')) clearMessage();
      paging.next = body.continuationToken ?? null;
      render(body.items ?? []);
      document.body.dataset.loaded = String(sequence);
    } catch (error) {
      if (sequence === loadSequence) showMessage(`The API did not answer: ${error.message}`);
    }
  }

  async function abortTransaction(id, button) {
    if (!window.confirm(`Abort transaction ${id}? Every branch is rolled back.`)) return;
    button.disabled = true;
    try {
      const { response, body } = await api(`transactions/${encodeURIComponent(id)}/abort`, { method: 'POST' });
      if (response.status !== 202) {
        showMessage(`Abort of ${id} refused: ${problemText(response, body)}`);
        button.disabled = false;
        return;
      }
      showMessage(`Abort requested for ${id}: ${body?.status ?? 'Aborting'}.`, 'info');
      // The transaction's own document, so that its row shows the decision now, then the whole page.
      const current = await api(`transactions/${encodeURIComponent(id)}`);
      const old = ui.rows.querySelector(`tr[data-id="${CSS.escape(id)}"]`);
      if (current.response.ok && old) old.replaceWith(row(current.body, Date.now()));
      await load();
    } catch (error) {
      showMessage(`Abort of ${id} failed: ${error.message}`);
      button.disabled = false;
    }
  }

  function restart() {
    paging.tokens = [null];
    paging.page = 0;
    paging.next = null;
    clearMessage();
    load();
  }

  function schedule() {
    clearInterval(timer);
    timer = ui.auto.checked ? setInterval(() => { if (!document.hidden) load(); }, refreshMs) : 0;
  }

  ui.status.addEventListener('change', restart);
  ui.size.addEventListener('change', restart);
  ui.refresh.addEventListener('click', () => { clearMessage(); load(); });
  ui.auto.addEventListener('change', schedule);
  ui.first.addEventListener('click', () => { paging.page = 0; load(); });
  ui.previous.addEventListener('click', () => { paging.page = Math.max(0, paging.page - 1); load(); });
  ui.next.addEventListener('click', () => {
    if (!paging.next) return;
    paging.tokens[paging.page + 1] = paging.next;
    paging.page += 1;
    load();
  });
  document.getElementById('controls').addEventListener('submit', event => event.preventDefault());

  load();
  schedule();
})();
