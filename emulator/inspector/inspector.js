const text = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const money = (m) => m ? `${text(m.value)} ${text(m.currency)}` : '';
/** A time as people read it (this browser's locale and zone), the exact value on hover. */
const when = (t) => t ? `<time datetime="${text(t)}" title="${text(t)}">${text(new Date(t).toLocaleString())}</time>` : '';
/** An order id that leads to its workflow execution (named by it). */
const order = (id) => id
  ? `<a href="/_emulator/api/executions/${encodeURIComponent(id)}" title="its workflow execution"><code>${text(id)}</code></a>` : '';
/** A value shown on demand; `key` names the panel, so that a refresh keeps it open. */
const pre = (v, key) =>
  `<details data-key="${text(key)}"><summary>show</summary><pre>${text(JSON.stringify(v, null, 2))}</pre></details>`;
/** What the search box asks for (an email, an order id, any text), lower case; empty shows all. */
let needle = '';
function table(rows, columns) {
  if (!rows.length) return '<p>None yet.</p>';
  if (needle) {
    rows = rows.filter((row) => JSON.stringify(row).toLowerCase().includes(needle));
    if (!rows.length) return '<p>Nothing matches the search.</p>';
  }
  const head = columns.map(([title]) => `<th>${text(title)}</th>`).join('');
  const body = rows.map((row) => `<tr>${columns.map(([, cell]) => `<td>${cell(row)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
/** A message body, pretty-printed when it is JSON. */
const body = (raw) => {
  try { return JSON.stringify(JSON.parse(raw), null, 2); } catch { return String(raw ?? ''); }
};
const button = (label, action, queue, id) =>
  `<button type="button" data-action="${action}" data-queue="${text(queue)}"${id ? ` data-id="${text(id)}"` : ''}>${label}</button>`;
/** A queue's messages: each body pretty-printed, the dead-letter reason shown, and what can be done with it. */
function messages(q, deadLetterQueue) {
  if (!q.messages.length) return '';
  return q.messages.map((m) => {
    const reason = m.attributes && m.attributes.DeadLetterReason
      ? `<p class="FAILED">${text(m.attributes.DeadLetterReason)}: ${text(m.attributes.DeadLetterErrorDescription || '')}</p>` : '';
    const actions = (deadLetterQueue ? button('Redrive', 'redrive', q.name, m.messageId) : '') + button('Delete', 'delete', q.name, m.messageId);
    return `<details data-key="message:${text(m.messageId)}"><summary><code>${text(m.messageId)}</code> · ${text(m.state)} · received ${text(m.receiveCount)}×</summary>`
      + `${reason}<pre>${text(body(m.body))}</pre>${actions}</details>`;
  }).join('');
}
const views = {
  queues: (rows) => {
    // A queue that some queue's redrive policy names is a dead-letter queue: its messages can go back.
    const deadLetterQueues = new Set(rows.map((q) => q.deadLetterQueue).filter(Boolean));
    return table(rows, [['Queue', (q) => `<code>${text(q.name)}</code>`], ['Visible', (q) => q.visible],
      ['In flight', (q) => q.inFlight], ['Delayed', (q) => q.delayed], ['Dead-lettered', (q) => q.deadLettered],
      ['DLQ', (q) => text(q.deadLetterQueue)],
      ['Messages', (q) => messages(q, deadLetterQueues.has(q.name))],
      ['', (q) => q.messages.length
        ? (deadLetterQueues.has(q.name) ? button('Redrive all', 'redrive', q.name) : '') + button('Purge', 'purge', q.name) : '']]);
  },
  executions: (rows) => table(rows, [['Name (order id)', (e) => `<code>${text(e.name)}</code>`],
    ['Status', (e) => `<span class="${text(e.status)}">${text(e.status)}</span> ${text(e.error || '')}`],
    ['Started', (e) => when(e.startedAt)],
    ['History', (e) => `<a href="/_emulator/api/executions/${encodeURIComponent(e.name)}">events</a>`]]),
  orders: (rows) => table(rows, [['Order', (o) => order(o.orderId)],
    ['Attendee', (o) => `${text(o.attendee.firstName)} ${text(o.attendee.lastName)} &lt;${text(o.attendee.email)}&gt;`],
    ['Ticket', (o) => text(o.ticket.name)], ['Amount', (o) => money(o.amount)], ['Newsletter', (o) => o.newsletter ? 'yes' : 'no'],
    ['Stored', (o) => when(o.storedAt)]]),
  payments: (rows) => table(rows, [['Capture', (p) => `<code>${text(p.captureId)}</code>`],
    ['Status', (p) => `<span class="${text(p.status)}">${text(p.status)}</span>`], ['Amount', (p) => money(p.amount)],
    ['Card', (p) => `${text(p.card.brand)} ····${text(p.card.lastDigits)}`], ['Order', (p) => order(p.orderId)]]),
  outbox: (rows) => table(rows, [['To', (m) => text(m.to.join(', '))], ['Subject', (m) => text(m.subject)],
    ['Order', (m) => order(m.orderId)], ['Text', (m) => pre(m.text, `email:${m.orderId}`)], ['Sent', (m) => when(m.sentAt)]]),
  audience: (rows) => table(rows, [['Email', (m) => text(m.emailAddress)], ['Name', (m) => `${text(m.firstName)} ${text(m.lastName)}`],
    ['Status', (m) => text(m.status)], ['Changed', (m) => when(m.lastChanged)]]),
  faults: (rows) => table(rows, [['Target', (f) => text(f.target)], ['Mode', (f) => text(f.mode)],
    ['Times left', (f) => text(f.times ?? 'until cleared')], ['Status', (f) => text(f.status ?? '')], ['Delay ms', (f) => text(f.delayMs ?? '')]]),
};
/** The last HTML of each section: a refresh that changes nothing leaves the section alone. */
const shown = {};
/** Replaces a section's content, keeping open the panels that were open (by their data-key). */
function render(container, html) {
  if (shown[container.id] === html) return;
  shown[container.id] = html;
  const open = new Set([...container.querySelectorAll('details[open]')].map((d) => d.dataset.key));
  container.innerHTML = html;
  for (const details of container.querySelectorAll('details[data-key]')) {
    if (open.has(details.dataset.key)) details.open = true;
  }
}
async function refresh() {
  for (const [name, view] of Object.entries(views)) {
    const container = document.getElementById(name);
    try {
      const response = await fetch(`/_emulator/api/${name}`);
      const body = await response.json();
      // Listings are paged (newest first, the first page shown); queues and faults are lists.
      render(container, view(Array.isArray(body) ? body : body.items));
    } catch (e) {
      render(container, `<p>Could not load: ${text(e)}</p>`);
    }
  }
}
// The queues' buttons: redrive a dead-lettered message (or all) to its source queue, delete one, purge.
document.getElementById('queues').addEventListener('click', async (event) => {
  const target = event.target.closest('button[data-action]');
  if (!target) return;
  const queue = encodeURIComponent(target.dataset.queue);
  const id = target.dataset.id;
  const requests = {
    redrive: [`/_emulator/api/queues/${queue}/redrive`, 'POST', JSON.stringify(id ? { messageId: id } : {})],
    delete: [`/_emulator/api/queues/${queue}/messages/${encodeURIComponent(id || '')}`, 'DELETE'],
    purge: [`/_emulator/api/queues/${queue}/messages`, 'DELETE'],
  };
  const [url, method, payload] = requests[target.dataset.action];
  const response = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, body: payload });
  const answer = response.status === 204 ? {} : await response.json();
  document.getElementById('queue-result').textContent = response.ok
    ? (answer.moved !== undefined ? `Moved ${answer.moved} to ${answer.to}.` : answer.purged !== undefined ? `Purged ${answer.purged}.` : 'Deleted.')
    : answer.error;
  refresh();
});
document.getElementById('fault-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const fault = {};
  for (const [key, value] of new FormData(event.target)) {
    if (value !== '') fault[key] = ['times', 'status', 'delayMs'].includes(key) ? Number(value) : value;
  }
  const response = await fetch('/_emulator/api/faults', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(fault),
  });
  const body = await response.json();
  document.getElementById('fault-result').textContent = response.ok ? 'Injected.' : body.error;
  refresh();
});
document.getElementById('clear-faults').addEventListener('click', async () => {
  await fetch('/_emulator/api/faults', { method: 'DELETE' });
  document.getElementById('fault-result').textContent = 'Cleared.';
  refresh();
});
document.getElementById('search').addEventListener('input', (event) => {
  needle = event.target.value.trim().toLowerCase();
  refresh();
});
refresh();
// Every two seconds, unless paused (to read or copy something that keeps changing).
const pause = document.getElementById('pause');
setInterval(() => { if (!pause.checked) refresh(); }, 2000);
