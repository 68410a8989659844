const text = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const money = (m) => m ? `${text(m.value)} ${text(m.currency)}` : '';
const pre = (v) => `<details><summary>show</summary><pre>${text(JSON.stringify(v, null, 2))}</pre></details>`;
function table(rows, columns) {
  if (!rows.length) return '<p>None yet.</p>';
  const head = columns.map(([title]) => `<th>${text(title)}</th>`).join('');
  const body = rows.map((row) => `<tr>${columns.map(([, cell]) => `<td>${cell(row)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
const views = {
  queues: (rows) => table(rows, [['Queue', (q) => `<code>${text(q.name)}</code>`], ['Visible', (q) => q.visible],
    ['In flight', (q) => q.inFlight], ['Delayed', (q) => q.delayed], ['Dead-lettered', (q) => q.deadLettered],
    ['DLQ', (q) => text(q.deadLetterQueue)], ['Messages', (q) => q.messages.length ? pre(q.messages) : '']]),
  executions: (rows) => table(rows, [['Name (order id)', (e) => `<code>${text(e.name)}</code>`],
    ['Status', (e) => `<span class="${text(e.status)}">${text(e.status)}</span> ${text(e.error || '')}`],
    ['Started', (e) => text(e.startedAt)],
    ['History', (e) => `<a href="/_emulator/api/executions/${encodeURIComponent(e.name)}">events</a>`]]),
  orders: (rows) => table(rows, [['Order', (o) => `<code>${text(o.orderId)}</code>`],
    ['Attendee', (o) => `${text(o.attendee.firstName)} ${text(o.attendee.lastName)} &lt;${text(o.attendee.email)}&gt;`],
    ['Ticket', (o) => text(o.ticket.name)], ['Amount', (o) => money(o.amount)], ['Newsletter', (o) => o.newsletter ? 'yes' : 'no'],
    ['Stored', (o) => text(o.storedAt)]]),
  payments: (rows) => table(rows, [['Capture', (p) => `<code>${text(p.captureId)}</code>`],
    ['Status', (p) => `<span class="${text(p.status)}">${text(p.status)}</span>`], ['Amount', (p) => money(p.amount)],
    ['Card', (p) => `${text(p.card.brand)} ····${text(p.card.lastDigits)}`], ['PayPal-Request-Id', (p) => `<code>${text(p.requestId)}</code>`]]),
  outbox: (rows) => table(rows, [['To', (m) => text(m.to.join(', '))], ['Subject', (m) => text(m.subject)],
    ['Order', (m) => `<code>${text(m.orderId)}</code>`], ['Text', (m) => pre(m.text)], ['Sent', (m) => text(m.sentAt)]]),
  audience: (rows) => table(rows, [['Email', (m) => text(m.emailAddress)], ['Name', (m) => `${text(m.firstName)} ${text(m.lastName)}`],
    ['Status', (m) => text(m.status)], ['Changed', (m) => text(m.lastChanged)]]),
  faults: (rows) => table(rows, [['Target', (f) => text(f.target)], ['Mode', (f) => text(f.mode)],
    ['Times left', (f) => text(f.times ?? 'until cleared')], ['Status', (f) => text(f.status ?? '')], ['Delay ms', (f) => text(f.delayMs ?? '')]]),
};
async function refresh() {
  for (const [name, view] of Object.entries(views)) {
    try {
      const response = await fetch(`/_emulator/api/${name}`);
      const body = await response.json();
      // Listings are paged (newest first, the first page shown); queues and faults are lists.
      document.getElementById(name).innerHTML = view(Array.isArray(body) ? body : body.items);
    } catch (e) {
      document.getElementById(name).textContent = `Could not load: ${e}`;
    }
  }
}
document.getElementById('fault-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const fault = {};
  for (const [key, value] of new FormData(event.target)) {
    if (value !== '') fault[key] = ['times', 'status', 'delayMs'].includes(key) ? Number(value) : value;
  }
  const response = await fetch('/_emulator/api/faults', { method: 'POST', body: JSON.stringify(fault) });
  const body = await response.json();
  document.getElementById('fault-result').textContent = response.ok ? 'Injected.' : body.error;
  refresh();
});
document.getElementById('clear-faults').addEventListener('click', async () => {
  await fetch('/_emulator/api/faults', { method: 'DELETE' });
  document.getElementById('fault-result').textContent = 'Cleared.';
  refresh();
});
refresh();
setInterval(refresh, 2000);
