const text = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const money = (m) => m ? `${text(m.value)} ${text(m.currency)}` : '';
/** A time as people read it (this browser's locale and zone), the exact value on hover. */
const when = (t) => t ? `<time datetime="${text(t)}" title="${text(t)}">${text(new Date(t).toLocaleString())}</time>` : '';
/** An order id that leads to its workflow execution (named by it), drawn as a graph. */
const order = (id) => id
  ? `<a href="#execution=${encodeURIComponent(id)}" title="its workflow execution"><code>${text(id)}</code></a>` : '';
/** A link to the registration's story (every step on one time axis). */
const storyLink = (id) => id ? ` · <a href="#story=${encodeURIComponent(id)}">story</a>` : '';
/** What names a row, so that a link can lead to it (`#payment-…`, `#email-…`, `#member-…`). */
const anchor = (kind, key) => `${kind}-${String(key ?? '').toLowerCase().replace(/[^a-z0-9@._-]/g, '-')}`;
/** What the search box asks for (an email, an order id, any text), lower case; empty shows all. */
let needle = '';
function table(rows, columns, rowId) {
  if (!rows.length) return '<p>None yet.</p>';
  if (needle) {
    rows = rows.filter((row) => JSON.stringify(row).toLowerCase().includes(needle));
    if (!rows.length) return '<p>Nothing matches the search.</p>';
  }
  const head = columns.map(([title]) => `<th scope="col">${title ? text(title) : '<span class="visually-hidden">Actions</span>'}</th>`).join('');
  const body = rows.map((row) => `<tr${rowId ? ` id="${text(rowId(row))}"` : ''}>${columns
    .map(([title, cell]) => `<td data-label="${text(title)}"><div>${cell(row)}</div></td>`).join('')}</tr>`).join('');
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
    // A message not visible says when it will be (a consumer's visibility timeout, or a delay).
    const again = m.state === 'visible' ? '' : ` · visible again ${when(m.visibleAt)}`;
    return `<details data-key="message:${text(m.messageId)}"><summary><code>${text(m.messageId)}</code> · ${text(m.state)} · received ${text(m.receiveCount)}×${again}</summary>`
      + `${reason}<pre tabindex="0">${text(body(m.body))}</pre>${actions}</details>`;
  }).join('');
}
/** An email as its recipient sees it: the HTML part in a sandboxed frame (no script, nothing
 *  fetched: the page that serves it says so too), and the text part. */
const email = (m) => `<details data-key="email:${text(m.id)}"><summary>show</summary>`
  + (m.html ? `<iframe sandbox src="/_emulator/api/outbox/${encodeURIComponent(m.id)}/html" title="The HTML part of the email to ${text(m.to.join(', '))}"></iframe>` : '')
  + `<h3>Text part</h3><pre tabindex="0">${text(m.text)}</pre></details>`;

/** The workflow's definition (fetched once) and the execution being looked at (`#execution=…`). */
let workflow = null;
const selectedExecution = () => {
  const match = /^#execution=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
};
const selectedStory = () => {
  const match = /^#story=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
};
/** A machine's states in the order they can run: from StartAt along every transition. */
function reachable(machine) {
  const order = [];
  const visit = (name) => {
    if (!name || order.includes(name) || !machine.States[name]) return;
    order.push(name);
    const state = machine.States[name];
    visit(state.Next);
    for (const rule of state.Choices || []) visit(rule.Next);
    visit(state.Default);
    for (const catcher of state.Catch || []) visit(catcher.Next);
  };
  visit(machine.StartAt);
  return order.concat(Object.keys(machine.States).filter((name) => !order.includes(name)));
}
/** Where a state can go next, in words. */
function transitions(state) {
  const rule = (r) => text(Object.entries(r).filter(([k]) => k !== 'Next').map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(' '));
  return [
    ...(state.Choices || []).map((r) => `if ${rule(r)} → <strong>${text(r.Next)}</strong>`),
    ...(state.Default ? [`otherwise → <strong>${text(state.Default)}</strong>`] : []),
    ...(state.Next ? [`→ <strong>${text(state.Next)}</strong>`] : []),
    ...(state.Catch || []).map((c) => `on ${text(c.ErrorEquals.join(', '))} → <strong>${text(c.Next)}</strong>`),
    ...(state.End || ['Succeed', 'Fail'].includes(state.Type) ? ['end'] : []),
  ].join('<br>');
}
const duration = (ms) => ms == null ? '' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
/** The states a Catch leads to (failure handlers), in a machine and its branches. */
function catchTargets(machine, into = new Set()) {
  for (const state of Object.values(machine.States)) {
    for (const catcher of state.Catch || []) into.add(catcher.Next);
    for (const branch of state.Branches || []) catchTargets(branch, into);
  }
  return into;
}
/** The steps whose error ended them (caught by a handler, or failing the execution), in the order
 *  they can run, branches included; the Fail states, which only report, left out, and a Parallel
 *  state that failed because a step of its branches did. */
function failedSteps(machine, runs) {
  return reachable(machine).flatMap((name) => {
    const state = machine.States[name];
    const run = runs[name];
    const inBranches = (state.Branches || []).flatMap((branch) => failedSteps(branch, runs));
    const own = run && ['FAILED', 'CAUGHT'].includes(run.status) && run.error && state.Type !== 'Fail' && !inBranches.length
      ? [{ name, run, handler: ((state.Catch || []).find((c) => runs[c.Next]) || {}).Next }] : [];
    return own.concat(inBranches);
  });
}
/** What failed, at the top of a failed execution: each step, its error and cause, its handler. */
function failureBanner(machine, runs) {
  const steps = failedSteps(machine, runs);
  if (!steps.length) return '';
  return `<div class="failure-banner"><p><strong>${steps.length === 1 ? 'The step that failed' : 'The steps that failed'}:</strong></p><ul>${
    steps.map(({ name, run, handler }) => `<li><strong>${text(name)}</strong>: ${text(run.error)}${run.cause ? ` (${text(run.cause)})` : ''}`
      + `${run.attempts > 1 ? `, after ${run.attempts} attempts` : ''}${handler ? `; its failure handler <strong>${text(handler)}</strong> ran` : ''}.</li>`).join('')
  }</ul></div>`;
}
/** A machine (or a Parallel branch) drawn as its states, top to bottom, each coloured by how it
 *  ran; a failure handler that ran is drawn as one, not as a success. */
function machineGraph(machine, runs, handlers = catchTargets(machine)) {
  return `<ol class="machine">${reachable(machine).map((name) => {
    const state = machine.States[name];
    const run = runs[name];
    const status = run ? run.status : 'NOT_RUN';
    const handled = run && handlers.has(name);
    const facts = run ? [run.attempts > 1 ? `${run.attempts} attempts` : '', duration(run.durationMs)].filter(Boolean).join(' · ') : '';
    const detail = run ? `<details data-key="state:${text(name)}"><summary>details</summary><dl>`
      + `<dt>Entered</dt><dd>${when(run.enteredAt) || '—'}</dd><dt>Attempts</dt><dd>${run.attempts}</dd>`
      + (run.error ? `<dt>Error</dt><dd class="FAILED">${text(run.error)}: ${text(run.cause || '')}</dd>` : '')
      + `<dt>Input</dt><dd>${run.input === undefined || run.input === null ? 'not known (no completed task leads here)' : `<pre tabindex="0">${text(JSON.stringify(run.input, null, 2))}</pre>`}</dd>`
      + `<dt>Output</dt><dd>${run.output === undefined || run.output === null ? '—' : `<pre tabindex="0">${text(JSON.stringify(run.output, null, 2))}</pre>`}</dd>`
      + '</dl></details>' : '';
    const branches = state.Type === 'Parallel'
      ? `<div class="branches">${state.Branches.map((branch) => `<div class="branch">${machineGraph(branch, runs, handlers)}</div>`).join('')}</div>` : '';
    const shown = handled ? 'HANDLER' : status;
    const label = handled ? `failure handler ${status === 'SUCCEEDED' ? 'ran' : status.toLowerCase()}` : status.replace('_', ' ');
    return `<li class="state state-${text(shown)}" data-state="${text(name)}" data-status="${text(status)}"${handled ? ' data-role="handler"' : ''}>`
      + `<div class="box"><strong>${text(name)}</strong> <small>${text(state.Type)}</small><br>`
      + `<span class="${text(shown)}">${text(label)}</span> <small>${text(facts)}</small>${detail}</div>`
      + `${branches}<p class="edges">${transitions(state)}</p></li>`;
  }).join('')}</ol>`;
}
/** The events of the execution's last run, with the time since its first. */
function timeline(events) {
  if (!events.length) return '<p>No events stored yet (an execution\'s history is stored when it stops).</p>';
  const start = new Date(events[0].timestamp).getTime();
  const detail = (d) => text(Object.entries(d || {}).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' · '));
  return `<table class="timeline"><thead><tr><th scope="col">#</th><th scope="col">At</th><th scope="col">Event</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead><tbody>${
    events.map((e) => `<tr><td>${e.id}</td><td>+${new Date(e.timestamp).getTime() - start} ms</td><td>${text(e.type)}</td><td>${text(e.state || '')}</td><td>${detail(e.detail)}</td></tr>`).join('')
  }</tbody></table>`;
}
/** The execution named in the address, as a graph with a timeline; empty when none is chosen. */
async function executionView() {
  const name = selectedExecution();
  if (!name) return '';
  if (!workflow) workflow = await (await fetch('/_emulator/api/workflow')).json();
  const response = await fetch(`/_emulator/api/executions/${encodeURIComponent(name)}`);
  const execution = await response.json();
  if (!response.ok) return `<p>${text(execution.error)}</p>`;
  return `<h3>Execution <code>${text(name)}</code> · <span class="${text(execution.status)}">${text(execution.status)}</span>`
    + ` · started ${when(execution.startedAt)} <a href="#">close</a></h3>`
    + (execution.error ? `<p class="FAILED">${text(execution.error)}: ${text(execution.cause || '')}</p>` : '')
    + (execution.redriveCount ? `<p>Redriven ${execution.redriveCount}× (last ${when(execution.redriveDate)}).</p>` : '')
    + failureBanner(workflow.definition, execution.states)
    + (['FAILED', 'ABORTED'].includes(execution.status)
      ? `<p class="redrive"><button type="button" data-action="redrive-execution" data-name="${text(name)}">Redrive</button> `
        + 'runs it again from where it stopped, once the cause is fixed: the failed step and what its failure stopped; '
        + 'nothing that completed runs again.</p>' : '')
    + `<p id="redrive-result" role="status">${text(redriveResult[name] || '')}</p>`
    + `<figure class="graph" aria-label="The workflow ${text(workflow.name)}, each state with how it ran">${machineGraph(workflow.definition, execution.states)}</figure>`
    + `<details data-key="timeline"><summary>Timeline (${execution.events.length} events)</summary>${timeline(execution.events)}</details>`;
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
  executions: (rows) => table(rows, [['Name (order id)', (e) => order(e.name)],
    ['Status', (e) => `<span class="${text(e.status)}">${text(e.status)}</span> ${text(e.error || '')}`],
    ['Started', (e) => when(e.startedAt)],
    ['History', (e) => `<a href="#execution=${encodeURIComponent(e.name)}">graph</a>${storyLink(e.name)} · <a href="/_emulator/api/executions/${encodeURIComponent(e.name)}">JSON</a>`]]),
  orders: (rows) => table(rows, [['Order', (o) => order(o.orderId)],
    ['Attendee', (o) => `${text(o.attendee.firstName)} ${text(o.attendee.lastName)} &lt;${text(o.attendee.email)}&gt;`],
    ['Ticket', (o) => text(o.ticket.name)], ['Amount', (o) => money(o.amount)], ['Newsletter', (o) => o.newsletter ? 'yes' : 'no'],
    ['Stored', (o) => when(o.storedAt)],
    ['See', (o) => [`<a href="#story=${encodeURIComponent(o.orderId)}">story</a>`, `<a href="#execution=${encodeURIComponent(o.orderId)}">execution</a>`,
      `<a href="#${anchor('payment', o.orderId)}">payment</a>`, `<a href="#${anchor('email', o.orderId)}">email</a>`,
      o.newsletter ? `<a href="#${anchor('member', o.attendee.email)}">audience entry</a>` : ''].filter(Boolean).join(' · ')]],
  (o) => anchor('order', o.orderId)),
  payments: (rows) => table(rows, [['Capture', (p) => `<code>${text(p.captureId)}</code>`],
    ['Status', (p) => `<span class="${text(p.status)}">${text(p.status)}</span>`], ['Amount', (p) => money(p.amount)],
    ['Card', (p) => `${text(p.card.brand)} ····${text(p.card.lastDigits)}`],
    // Only a completed payment has an order (and so an execution) to lead to.
    ['Order', (p) => p.status === 'COMPLETED' ? order(p.orderId) + storyLink(p.orderId) : `<code>${text(p.orderId)}</code> (nothing ordered)`]],
  (p) => anchor('payment', p.orderId)),
  outbox: (rows) => table(rows, [['To', (m) => text(m.to.join(', '))], ['Subject', (m) => text(m.subject)],
    ['Order', (m) => order(m.orderId) + storyLink(m.orderId)], ['Email', email], ['Sent', (m) => when(m.sentAt)]],
  (m) => anchor('email', m.orderId)),
  audience: (rows) => table(rows, [['Email', (m) => text(m.emailAddress)], ['Name', (m) => `${text(m.firstName)} ${text(m.lastName)}`],
    ['Status', (m) => text(m.status)], ['Changed', (m) => when(m.lastChanged)]],
  (m) => anchor('member', m.emailAddress)),
  faults: (rows) => table(rows, [['Target', (f) => text(f.target)], ['Mode', (f) => text(f.mode)],
    ['Times left', (f) => text(f.times ?? 'until cleared')], ['Status', (f) => text(f.status ?? '')], ['Delay ms', (f) => text(f.delayMs ?? '')]]),
};
/** The last HTML of each section: a refresh that changes nothing leaves the section alone. */
const shown = {};
/** Whether the reader has selected text in `container` (to copy it): redrawing would clear it. */
function selecting(container) {
  const selection = window.getSelection();
  return selection && !selection.isCollapsed && selection.rangeCount > 0
    && container.contains(selection.getRangeAt(0).commonAncestorContainer);
}
/** Replaces a section's content, keeping open the panels that were open (by their data-key);
 *  a section with text selected in it is left as it is until the selection is gone. */
function render(container, html) {
  if (shown[container.id] === html || selecting(container)) return;
  shown[container.id] = html;
  const open = new Set([...container.querySelectorAll('details[open]')].map((d) => d.dataset.key));
  container.innerHTML = html;
  for (const details of container.querySelectorAll('details[data-key]')) {
    if (open.has(details.dataset.key)) details.open = true;
  }
}
/** Reload on save's last build (process mode): nothing until a source changes; then building,
 *  what the new build serves, or the compiler's errors while the previous build keeps serving. */
function buildView(report) {
  if (!report.watching) return '';
  const restart = report.restartToApply.length
    ? `<p class="build">Changed since the start: ${report.restartToApply.map((f) => `<code>${text(f)}</code>`).join(', ')}. `
      + 'The topology is read at start: restart the emulator to apply it.</p>' : '';
  const seconds = report.seconds == null ? '' : ` in ${report.seconds.toFixed(1)} s`;
  const states = {
    idle: '',
    building: '<p class="build">A source changed: building the functions…</p>',
    succeeded: `<p class="build">Rebuilt${seconds} (${when(report.startedAt)}): `
      + (report.reloaded.length ? `serving the new build of ${report.reloaded.map((b) => `<code>${text(b)}</code>`).join(', ')}.` : 'no binary changed.') + '</p>',
    failed: `<section class="build FAILED"><h2>The last build failed</h2><p>The previous build keeps serving. `
      + `Fix the error and save: the emulator builds again.</p><pre tabindex="0">${text(report.errors)}</pre></section>`,
  };
  return (states[report.state] || '') + restart;
}
/** One registration's story: every step (the functions' invocations with their log lines, the
 *  order's message on its queue, the execution and its states) as a bar on one time axis. */
async function storyView() {
  const id = selectedStory();
  if (!id) return '';
  const response = await fetch(`/_emulator/api/stories/${encodeURIComponent(id)}`);
  const story = await response.json();
  if (!response.ok) return `<h2>Story of <code>${text(id)}</code> <a href="#">close</a></h2><p>${text(story.error)}</p>`;
  const at = (t) => (t ? new Date(t).getTime() : NaN);
  const starts = story.steps.map((s) => at(s.startedAt)).filter((t) => !Number.isNaN(t));
  const ends = story.steps.map((s) => at(s.endedAt || s.startedAt)).filter((t) => !Number.isNaN(t));
  const first = Math.min(...starts);
  const span = Math.max(1, Math.max(...ends) - first);
  const kinds = { invocation: 'function', message: 'queue', execution: 'workflow', state: 'state' };
  const rows = story.steps.map((step) => {
    const start = at(step.startedAt) - first;
    const length = (Number.isNaN(at(step.endedAt)) ? 0 : at(step.endedAt) - at(step.startedAt));
    // SVG attributes, not inline styles: the inspector's Content-Security-Policy allows no style attribute.
    const bar = `<svg class="track" viewBox="0 0 1000 12" preserveAspectRatio="none" role="img" aria-label="from +${Math.round(start)} ms for ${Math.round(length)} ms">`
      + `<rect class="bar ${text(step.status)}" x="${(start / span) * 1000}" width="${Math.max(2, (length / span) * 1000)}" height="12"></rect></svg>`;
    const facts = [step.deliveries ? `${step.deliveries} ${step.deliveries === 1 ? 'delivery' : 'deliveries'}` : '',
      step.attempts > 1 ? `${step.attempts} attempts` : '', step.requestId ? `request <code>${text(step.requestId)}</code>` : '',
      step.error ? `<span class="FAILED">${text(step.error)}${step.cause ? `: ${text(step.cause)}` : ''}</span>` : ''].filter(Boolean).join(' · ');
    const log = step.log && step.log.length
      ? `<details data-key="log:${text(step.requestId)}"><summary>${step.log.length} log ${step.log.length === 1 ? 'line' : 'lines'}</summary><ol class="log">${
        step.log.map((line) => `<li><code>${text(line.level || '')} ${text(line.message)}</code></li>`).join('')}</ol></details>` : '';
    return `<tr data-kind="${text(step.kind)}" data-name="${text(step.name)}"><td>${text(kinds[step.kind] || step.kind)} <strong>${text(step.name)}</strong></td>`
      + `<td><span class="${text(step.status)}">${text(step.status)}</span></td><td>+${Math.round(start)} ms</td>`
      + `<td>${text(duration(step.durationMs == null ? null : Math.round(step.durationMs)))}</td><td>${bar}</td><td>${facts}${log}</td></tr>`;
  }).join('');
  return `<h2>Story of registration <code>${text(story.orderId)}</code>${story.traceId ? ` · trace <code>${text(story.traceId)}</code>` : ''} <a href="#">close</a></h2>`
    + '<p>Every step the emulator saw, on one time axis. Function invocations are recorded in process mode (the default), with the log lines each printed.</p>'
    + `<table class="story"><thead><tr><th scope="col">Step</th><th scope="col">Status</th><th scope="col">Start</th><th scope="col">Took</th><th scope="col">Time axis</th><th scope="col">Details</th></tr></thead><tbody>${rows}</tbody></table>`;
}
async function refresh() {
  try {
    render(document.getElementById('build'), buildView(await (await fetch('/_emulator/api/build')).json()));
  } catch (e) {
    render(document.getElementById('build'), '');
  }
  const story = document.getElementById('story');
  try {
    render(story, await storyView());
  } catch (e) {
    render(story, `<p>Could not load the story: ${text(e)}</p>`);
  }
  const detail = document.getElementById('execution');
  try {
    render(detail, await executionView());
  } catch (e) {
    render(detail, `<p>Could not load the execution: ${text(e)}</p>`);
  }
  for (const [name, view] of Object.entries(views)) {
    const container = document.getElementById(name);
    try {
      const response = await fetch(listing(name));
      const body = await response.json();
      // Listings are paged (newest first, the first page shown); queues and faults are lists.
      render(container, view(Array.isArray(body) ? body : body.items));
    } catch (e) {
      render(container, `<p>Could not load: ${text(e)}</p>`);
    }
  }
  markLinkedRow();
}
/** A section's listing: the executions in the status chosen, every page of them (the database
 *  filters, so the first page holds the newest of that status however many others there are). */
const executionStatus = document.getElementById('execution-status');
const listing = (name) => name === 'executions' && executionStatus.value
  ? `/_emulator/api/executions?status=${encodeURIComponent(executionStatus.value)}` : `/_emulator/api/${name}`;
executionStatus.addEventListener('change', () => refresh());
/** The row the address names (`#payment-…`, `#email-…`, `#member-…`, `#order-…`): marked, and
 *  brought into view the first time it is drawn. Rows are drawn after the page has loaded, so the
 *  browser's own jump to the fragment (and `:target`) finds nothing on a fresh load. */
let broughtIntoView = null;
function markLinkedRow() {
  const id = /^#[a-z]+-[^=]+$/.test(location.hash) ? decodeURIComponent(location.hash.slice(1)) : null;
  for (const row of document.querySelectorAll('tr.linked')) if (row.id !== id) row.classList.remove('linked');
  const row = id && document.getElementById(id);
  // A section's link (`#payments-section`) is the browser's to follow.
  if (row && row.tagName !== 'TR') return;
  // A link to something that is not there says so, rather than leave the reader at the top.
  const missing = {
    payment: 'no payment was made for this order',
    email: 'no email was sent for this order (yet): its execution may still be running, or have failed',
    member: 'this attendee is not in the audience',
    order: 'no order was stored (yet)',
  };
  const kind = id ? id.split('-')[0] : '';
  document.getElementById('link-result').textContent = id && !row
    ? `Nothing to show for ${id}: ${missing[kind] || 'it is not listed'}.` : '';
  if (!row) return;
  row.classList.add('linked');
  if (broughtIntoView !== id) {
    broughtIntoView = id;
    row.scrollIntoView({ block: 'center' });
  }
}
// Choosing an execution (a link to `#execution=…`) draws it at once and brings it into view.
// A section's link (`#faults-section`) is followed again once the page is redrawn: leaving an
// execution's graph shortens the page above it.
window.addEventListener('hashchange', async () => {
  await refresh();
  if (selectedExecution()) document.getElementById('execution').scrollIntoView();
  if (selectedStory()) document.getElementById('story').scrollIntoView();
  const section = /^#[a-z]+-section$/.test(location.hash) && document.getElementById(location.hash.slice(1));
  if (section) section.scrollIntoView();
});
// A failed execution's Redrive button: Step Functions' RedriveExecution, or the Azure app's redrive
// function (the emulator calls the one of its topology).
const redriveResult = {};
document.getElementById('execution').addEventListener('click', async (event) => {
  const target = event.target.closest('button[data-action="redrive-execution"]');
  if (!target) return;
  const name = target.dataset.name;
  target.disabled = true;
  redriveResult[name] = 'Redriving…';
  document.getElementById('redrive-result').textContent = redriveResult[name];
  const response = await fetch(`/_emulator/api/executions/${encodeURIComponent(name)}/redrive`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
  });
  const answer = await response.json();
  redriveResult[name] = response.ok ? 'Redriven: it runs again from where it stopped.' : `Not redriven: ${answer.error}`;
  refresh();
});
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
  // Nothing is removed without asking: a purge wants the queue's name typed, as the SQS console does.
  const name = target.dataset.queue;
  const result = document.getElementById('queue-result');
  if (target.dataset.action === 'purge'
    && window.prompt(`Purge every message of ${name}? This cannot be undone. Type the queue's name to purge it.`) !== name) {
    result.textContent = `Not purged: ${name} was not typed.`;
    return;
  }
  if (target.dataset.action === 'delete' && !window.confirm(`Delete message ${id} from ${name}? This cannot be undone.`)) {
    result.textContent = 'Not deleted.';
    return;
  }
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
// `/` goes to the search box, as on GitHub and the AWS consoles (unless one is typing already).
document.addEventListener('keydown', (event) => {
  const typing = event.target.closest('input, textarea, select, [contenteditable]');
  if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
    event.preventDefault();
    document.getElementById('search').focus();
  }
});
document.getElementById('search').addEventListener('input', (event) => {
  needle = event.target.value.trim().toLowerCase();
  refresh();
});
refresh().then(() => {
  if (selectedExecution()) document.getElementById('execution').scrollIntoView();
  if (selectedStory()) document.getElementById('story').scrollIntoView();
});
// Every two seconds, unless paused (to read or copy something that keeps changing).
const pause = document.getElementById('pause');
setInterval(() => { if (!pause.checked) refresh(); }, 2000);
