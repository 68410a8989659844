// The registration site in a real browser (headless Chromium via playwright-core), against the
// emulator: what an attendee sees for invalid input, a declined card, a provider outage retried
// with the same Idempotency-Key, and a successful registration; the card fields (grouping, brand,
// expiry); every static file revalidated with a 304; the layout shift while the
// tickets load on a phone; axe-core on the site and the inspector; and the inspector drawing an
// execution as the workflow's graph, rendering an email, redriving a dead-lettered order, naming
// the step of a failed execution and redriving it, a registration's story (from its order, its
// payment, its email or its trace id), keeping a selection across refreshes, `/` for search, and
// asking before a purge or a delete.
//
//   node tests/browser/registration.mjs            # starts `cargo run -q -p emulator -- --port 0`
//   EMULATOR_URL=http://127.0.0.1:3000 node tests/browser/registration.mjs
//
// Chromium comes from Debian (`apt-get install chromium`); CHROMIUM overrides its path.
// SCREENSHOTS=docs/screenshots also saves the pictures the README shows.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

async function startEmulator() {
  if (process.env.EMULATOR_URL) return { url: process.env.EMULATOR_URL, stop() {} };
  // Redelivery in a second, dead-lettering after two tries: the inspector's redrive below is quick.
  const child = spawn('cargo', ['run', '-q', '-p', 'emulator', '--', '--port', '0',
    '--visibility-timeout', '1', '--max-receive-count', '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // PayPal's client gives up after 1.5 s instead of 25 s, so the outage below is quick.
    env: { ...process.env, DATABASE_URL: `sqlite:///tmp/browser-walk-${process.pid}.db`, PAYPAL_DEADLINE_MS: '1500' },
  });
  for await (const line of createInterface({ input: child.stdout })) {
    const match = line.match(/ready on (http:\/\/\S+)/);
    if (match) return { url: match[1], stop: () => child.kill('SIGTERM') };
  }
  throw new Error('the emulator exited before it was ready');
}

const axeSource = await readFile(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
/** axe-core's violations of serious or critical impact on the page as it is now. */
async function accessibilityProblems(page) {
  await page.evaluate(axeSource);
  const { violations } = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
/** Saves a picture for the README when SCREENSHOTS names a folder. */
async function screenshot(page, name, options = {}) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: `${process.env.SCREENSHOTS}/${name}.png`, ...options });
}

const emulator = await startEmulator();
// The inspector's JSON; a paged listing is read as its first page's items (newest first).
const api = async (path, init) => {
  const response = await fetch(emulator.url + path, init);
  if (response.status === 204) return null;
  const body = await response.json();
  return body && Array.isArray(body.items) ? body.items : body;
};
let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const page = await browser.newPage();
  // Whatever the Content-Security-Policy blocks (an inline script or style) fails the walk.
  const blocked = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  // Every static file comes compressed, with a validator: a repeat visit is a 304.
  for (const path of ['/', '/app.js', '/style.css', '/openapi.json', '/_emulator', '/_emulator/inspector.js', '/_emulator/inspector.css']) {
    const first = await fetch(emulator.url + path, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(first.headers.get('content-encoding'), 'gzip', `${path} compressed`);
    const again = await fetch(emulator.url + path, { headers: { 'if-none-match': first.headers.get('etag') } });
    assert.equal(again.status, 304, `${path} revalidated`);
  }

  // On a phone, with the tickets slow to come: the space kept for them means the form does not
  // jump when they arrive (cumulative layout shift under 0.1, Web Vitals' "good"; it was 0.198).
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await phone.route('**/api/tickets', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 800));
    await route.continue();
  });
  await phone.addInitScript(() => {
    window.layoutShift = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.layoutShift += entry.value;
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await phone.goto(emulator.url + '/');
  await phone.locator('#ticket-options input[type=radio]').first().waitFor();
  await phone.waitForTimeout(300);
  const layoutShift = await phone.evaluate(() => window.layoutShift);
  assert.ok(layoutShift < 0.1, `cumulative layout shift on a phone: ${layoutShift.toFixed(3)}`);
  assert.deepEqual(await accessibilityProblems(phone), [], 'axe-core on the site (phone)');
  await screenshot(phone, 'site-phone');
  await phone.close();

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(emulator.url + '/');
  await page.locator('#ticket-options input[type=radio]').first().waitFor();
  // The page says what one buys into, as the API gives it: the conference, its days, its venue.
  const catalogue = await api('/api/tickets');
  const named = await page.textContent('#conference');
  for (const part of [catalogue.conference, catalogue.venue, String(Number(catalogue.dates.end.slice(8)))]) {
    assert.ok(named.includes(part), `${JSON.stringify(part)} in "${named}"`);
  }
  assert.equal(await page.title(), `Register for ${catalogue.conference}`);
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the site');
  await screenshot(page, 'site-desktop', { fullPage: true });

  // The card number is grouped as it is typed and its brand named; the security code is held to
  // the brand's length (4 digits for American Express).
  await page.fill('#card-number', '');
  await page.locator('#card-number').pressSequentially('378282246310005');
  assert.equal(await page.inputValue('#card-number'), '3782 822463 10005');
  assert.equal((await page.textContent('#card-brand')).trim(), 'American Express');
  await page.fill('#card-number', '');

  // The expiry is one text field: 06/28 as typed is accepted; a month that does not exist gets a
  // clear error when the field is left.
  await page.locator('#card-expiry').pressSequentially('06/28');
  await page.locator('#card-expiry').blur();
  assert.equal(await page.isHidden('#card-expiry-error'), true, '06/28 is a valid expiry');
  await page.fill('#card-expiry', '13/28');
  await page.locator('#card-expiry').blur();
  assert.match(await page.textContent('#card-expiry-error'), /MM \/ YY/, 'a clear error on blur');
  await page.fill('#card-expiry', '');
  // Typed as digits, it reads MM / YY as it is typed.
  await page.locator('#card-expiry').pressSequentially('1230');
  assert.equal(await page.inputValue('#card-expiry'), '12 / 30', '1230 is shown as 12 / 30');
  await page.fill('#card-expiry', '');

  // Fields say they are required; short fields are short; the focus ring stands out (3:1).
  assert.equal(await page.getAttribute('#email', 'aria-required'), 'true');
  assert.equal(await page.getAttribute('#organization', 'aria-required'), null, 'optional');
  assert.ok((await page.locator('#card-cvc').boundingBox()).width <= 130, 'the security code field is short');
  const focusContrast = await page.evaluate(() => {
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    const hex = getComputedStyle(document.documentElement).getPropertyValue('--focus').trim();
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    const luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    return 1.05 / (luminance + 0.05);
  });
  assert.ok(focusContrast >= 3, `focus ring contrast on white ${focusContrast.toFixed(2)}:1`);
  const tickets = page.locator('#ticket-options input[type=radio]');
  await tickets.first().waitFor();
  assert.equal(await tickets.count(), (await api('/api/tickets')).tickets.length, 'one choice per ticket');
  assert.match(await page.textContent('#ticket-options'), /\$250\.00/, 'prices from the server');
  assert.equal(await page.isChecked('#newsletter'), false, 'consent is unchecked by default');

  // Invalid input: errors next to the fields, nothing sent.
  await page.fill('#email', 'not-an-email');
  await page.fill('#card-number', '4012 8888 8888 1882');
  await page.click('#submit-button');
  for (const field of ['email', 'card-number', 'first-name']) {
    assert.equal(await page.getAttribute(`#${field}`, 'aria-invalid'), 'true', `${field} marked invalid`);
    assert.ok((await page.textContent(`#${field}-error`)).trim().length > 0, `${field} error shown`);
  }
  assert.equal((await api('/_emulator/api/payments')).length, 0, 'nothing sent to PayPal');

  const fill = async (cardName, email) => {
    await tickets.first().check();
    await page.fill('#first-name', 'Ada');
    await page.fill('#last-name', 'Lovelace');
    await page.fill('#email', email);
    await page.fill('#card-name', cardName);
    await page.fill('#card-number', '4012 8888 8888 1881');
    await page.fill('#card-expiry', '12 / 30');
    await page.fill('#card-cvc', '123');
    await page.fill('#address-line1', '12 St James Square');
    await page.fill('#address-city', 'London');
    await page.fill('#address-postal', 'SW1Y 4JH');
    await page.selectOption('#address-country', 'GB');
  };

  // A declined card: the reason, and the card fields cleared. The request is held a second on its
  // way out, so that the walk sees the payment running: the form locked, progress by the button.
  await page.route('**/api/registrations', async (route) => {
    await new Promise((r) => setTimeout(r, 1000));
    await route.continue();
  });
  await fill('CCREJECT-REFUSED', 'carol@example.org');
  await page.click('#submit-button');
  await page.locator('#submit-status').waitFor({ state: 'visible' });
  assert.equal(await page.isDisabled('#email'), true, 'no edits while a payment runs');
  await page.locator('#outcome', { hasText: 'Your bank declined the payment' }).waitFor();
  await page.unroute('**/api/registrations');
  assert.equal(await page.inputValue('#card-number'), '', 'card number cleared after a decline');
  // The focus goes to the card number, where the reason stands too, with what was cleared; the
  // summary says the reason once.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'card-number', 'the focus moves to the card');
  const cardError = await page.textContent('#card-number-error');
  assert.match(cardError, /Your bank declined the payment/, cardError);
  assert.match(cardError, /card number and security code were cleared/, cardError);
  assert.equal(await page.getAttribute('#card-number', 'aria-invalid'), 'true');
  const summary = await page.textContent('#outcome');
  assert.equal(summary.split('Your bank declined').length - 1, 1, `the reason once in the summary: ${summary}`);
  assert.match(summary, /Nothing was charged\./);
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the site after a decline');

  // A card tester's card: declined three times, the fourth try is refused before the payment
  // provider (429), and the page says so calmly, with when to try again; nothing is locked.
  await fill('CCREJECT-REFUSED', 'tester@example.org');
  for (let attempt = 1; attempt <= 4; attempt++) {
    await page.fill('#card-number', '4111 1111 1111 1111');
    await page.fill('#card-cvc', '123');
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/api/registrations')),
      page.click('#submit-button'),
    ]);
    assert.equal(answer.status(), attempt < 4 ? 402 : 429, `try ${attempt}`);
    const expected = attempt < 4 ? 'Your card was declined' : 'Please wait before trying again';
    await page.locator('#outcome', { hasText: expected }).waitFor();
  }
  const throttled = await page.textContent('#outcome');
  assert.match(throttled, /Too many payments were declined\. Nothing was charged/, throttled);
  assert.match(throttled, /You can try again after \d{1,2}:\d\d( [AP]M)?\./, throttled);
  assert.equal(await page.isDisabled('#submit-button'), false, 'the form stays usable');
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the site after a 429');

  // The payment provider is down: a try-again message; once it is back, the retry succeeds with the same key.
  await api('/_emulator/api/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ target: 'paypal', mode: 'fail', status: 503 }) });
  await fill('Ada Lovelace', 'ada@example.org');
  await page.check('#newsletter');
  await page.click('#submit-button');
  await page.getByText('Trying again is safe').waitFor();
  // The outcome is unknown: the fields are locked, so the retry cannot become another payment.
  for (const field of ['#email', '#card-number', '#organization', '#address-country', '#submit-button']) {
    assert.equal(await page.isDisabled(field), true, `${field} locked while the outcome is unknown`);
  }
  // The service asked to wait (Retry-After): the retry waits too.
  assert.equal(await page.getByRole('button', { name: /^Try again \(\d+\)$/ }).isDisabled(), true,
    'Try again disabled during the countdown');
  await api('/_emulator/api/faults', { method: 'DELETE' });
  const retry = page.getByRole('button', { name: 'Try again', exact: true });
  await retry.waitFor({ timeout: 15000 });
  await retry.click();
  await page.locator('#confirmation').waitFor({ state: 'visible' });
  const id = (await page.textContent('#confirmation-id')).trim();
  assert.match(await page.textContent('#confirmation'), /Conference pass/);

  // What the attendee was told is what happened: one charge, the order stored.
  const payments = (await api('/_emulator/api/payments')).filter((p) => p.status === 'COMPLETED');
  assert.equal(payments.length, 1, 'charged once');
  assert.equal(payments[0].orderId, id);
  for (let i = 0; i < 100 && !(await api('/_emulator/api/orders')).some((o) => o.orderId === id); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok((await api('/_emulator/api/orders')).some((o) => o.orderId === id), 'the order is stored');

  // The answer is lost after the server charged the card (the connection drops): the page cannot
  // know the outcome, so it locks the form and "Try again" replays the same request and key. The
  // attendee is charged once (an edit and a new key used to charge twice).
  await page.click('#register-another');
  await fill('Grace Hopper', 'grace@example.org');
  await page.route('**/api/registrations', async (route) => {
    await route.fetch();
    await route.abort('connectionreset');
  });
  await page.click('#submit-button');
  await page.getByText('Trying again is safe').waitFor();
  assert.equal(await page.isDisabled('#organization'), true, 'no edit while the outcome is unknown');
  await page.unroute('**/api/registrations');
  await page.getByRole('button', { name: 'Try again', exact: true }).click();
  await page.locator('#confirmation').waitFor({ state: 'visible' });
  const graceId = (await page.textContent('#confirmation-id')).trim();
  const graceCharges = (await api('/_emulator/api/payments'))
    .filter((p) => p.status === 'COMPLETED' && p.orderId === graceId);
  assert.equal(graceCharges.length, 1, 'a lost answer retried is charged once');
  assert.equal((await api('/_emulator/api/payments')).filter((p) => p.status === 'COMPLETED').length, 2);

  // The inspector runs under the same policy: its script fills in the order.
  await page.goto(emulator.url + '/_emulator');
  await page.locator('#orders code', { hasText: id }).waitFor();
  // An order leads to its execution (in the orders, the payments and the outbox); times read as
  // dates, exact on hover.
  for (const section of ['orders', 'payments', 'outbox']) {
    assert.equal(await page.locator(`#${section} a`, { hasText: id }).first().getAttribute('href'),
      `#execution=${id}`, `${section} link the order to its execution`);
  }
  const stored = page.locator('#orders time').first();
  assert.ok(!Number.isNaN(Date.parse(await stored.getAttribute('title'))), 'the exact time on hover');
  assert.doesNotMatch(await stored.textContent(), /T\d\d:/, 'a readable time, not ISO 8601');
  // The order's row leads to its payment, its email and (with consent) its audience entry.
  const orderRow = page.locator('#orders tr', { hasText: id });
  for (const [link, section] of [['payment', 'payments'], ['email', 'outbox'], ['audience entry', 'audience']]) {
    const target = (await orderRow.getByRole('link', { name: link, exact: true }).getAttribute('href')).slice(1);
    assert.equal(await page.locator(`#${section} tr[id="${target}"]`).count(), 1, `the order's ${link} is linked`);
  }
  await orderRow.getByRole('link', { name: 'audience entry', exact: true }).click();
  assert.match(await page.locator('#audience tr:target').textContent(), /ada@example\.org/i, 'the link leads to the member');

  // The execution, drawn as the workflow's graph: every branch's task succeeded; a task's input
  // and output, replayed from its checkpoint.
  await orderRow.getByRole('link', { name: 'execution', exact: true }).click();
  const state = (name) => page.locator(`#execution li[data-state="${name}"]`);
  await state('Register').waitFor();
  for (const name of ['Register', 'SaveOrder', 'SendConfirmation', 'AddToMailingList']) {
    assert.equal(await state(name).getAttribute('data-status'), 'SUCCEEDED', `${name} succeeded`);
  }
  const saveOrder = state('SaveOrder').locator('details').first();
  await saveOrder.locator('summary').click();
  assert.match(await saveOrder.textContent(), new RegExp(`Input[\\s\\S]*${id}[\\s\\S]*Output`), 'its input, replayed');
  await page.locator('#execution details[data-key="timeline"] summary').click();
  assert.ok(await page.locator('#execution .timeline tbody tr').count() >= 10, 'a timeline of its events');
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the inspector, with an execution open');
  await screenshot(page.locator('#execution'), 'inspector-execution');

  // The registration's story: every step on one time axis, each function's invocation with the
  // log lines it printed (process mode, the default), the order on its queue, the workflow's states.
  await orderRow.getByRole('link', { name: 'story', exact: true }).click();
  const step = (kind, name) => page.locator(`#story tr[data-kind="${kind}"][data-name="${name}"]`);
  await step('state', 'SendConfirmation').waitFor();
  for (const fn of ['payment', 'orchestrator', 'save-order', 'email', 'mailing-list']) {
    let logged = 0;
    for (let i = 0; i < 30 && !(logged = await step('invocation', fn).locator('details li').count()); i++) await page.waitForTimeout(200);
    assert.ok(logged > 0, `${fn}'s invocation, with its log lines`);
    assert.equal(await step('invocation', fn).locator('.bar').count(), 1, `${fn} on the time axis`);
  }
  assert.equal(await step('message', 'RegistrationsQueue').count(), 1, 'the order on its queue');
  assert.equal(await step('execution', 'registration workflow').count(), 1, 'the execution');
  await step('invocation', 'email').locator('summary').click();
  assert.match(await step('invocation', 'email').textContent(), /confirmation email sent/, "the email function's own line");
  assert.deepEqual(await accessibilityProblems(page), [], "axe-core on a registration's story");
  await screenshot(page.locator('#story-section'), 'inspector-story');
  // The same story from the order's payment and email, and from the trace id of its POST.
  for (const section of ['payments', 'outbox']) {
    const link = page.locator(`#${section} tr`, { hasText: id }).getByRole('link', { name: 'story', exact: true });
    assert.equal(await link.getAttribute('href'), `#story=${id}`, `the ${section} row leads to the story`);
  }
  const { traceId } = await api(`/_emulator/api/stories/${id}`);
  await page.goto(`${emulator.url}/_emulator#story=${encodeURIComponent(traceId)}`);
  await step('invocation', 'payment').waitFor();
  assert.match(await page.textContent('#story h2'), new RegExp(id), 'a trace id leads to its registration');

  // An email's panel, opened here, stays open while the outbox changes below: the HTML part in a
  // sandboxed frame (no script), and the text part.
  const email = page.locator('#outbox tr', { hasText: id }).locator('details');
  await email.locator('summary').click();
  const frame = email.locator('iframe');
  assert.equal(await frame.getAttribute('sandbox'), '', 'the email runs nothing');
  await frame.contentFrame().getByRole('heading', { name: /registered, Ada/ }).waitFor();
  assert.match(await email.locator('pre').textContent(), /Ada/, 'the text part');
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the inspector, with an email open');

  // A payment's and an email's links work on a fresh load too: the row is marked and in view.
  for (const kind of ['payment', 'email']) {
    await page.goto(`${emulator.url}/_emulator#${kind}-${id}`);
    const row = page.locator(`tr[id="${kind}-${id}"].linked`);
    await row.waitFor();
    const inView = await row.evaluate((r) => {
      const box = r.getBoundingClientRect();
      return box.top >= 0 && box.bottom <= window.innerHeight;
    });
    assert.ok(inView, `the ${kind} row is in view on a fresh load`);
  }
  // No dead ends: a declined payment leads to no execution, and a link to an email that was never
  // sent says so.
  const declined = (await api('/_emulator/api/payments')).find((p) => p.status !== 'COMPLETED');
  await page.goto(`${emulator.url}/_emulator#email-${declined.orderId}`);
  await page.locator('#link-result', { hasText: 'no email was sent for this order' }).waitFor();
  const declinedRow = page.locator(`tr[id="payment-${declined.orderId}"]`);
  assert.match(await declinedRow.textContent(), /nothing ordered/);
  assert.equal(await declinedRow.locator('a[href^="#execution="]').count(), 0, 'a declined payment leads to no execution');

  // A registration whose order the orchestrator cannot take ends on the dead-letter queue; once
  // the cause is gone, the inspector's "Redrive all" sends it back and its workflow succeeds.
  const json = { 'content-type': 'application/json' };
  await api('/_emulator/api/faults', { method: 'POST', headers: json, body: JSON.stringify({ target: 'orchestrator', mode: 'fail' }) });
  const stuck = await api('/api/registrations', {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      ticket: 'conference',
      attendee: { firstName: 'Katherine', lastName: 'Johnson', email: 'katherine@example.org' },
      card: { name: 'Katherine Johnson', number: '4012888888881881', expiry: '2030-12', securityCode: '123' },
      billingAddress: { line1: '1 Langley Blvd', city: 'Hampton', postalCode: '23681', countryCode: 'US' },
      newsletter: false,
    }),
  });
  const stuckId = stuck.registrationId;
  assert.ok(stuckId, `registered: ${JSON.stringify(stuck)}`);
  const deadLettered = async () => (await api('/_emulator/api/queues'))
    .find((q) => q.name === 'RegistrationsDeadLetterQueue').messages.length;
  for (let i = 0; i < 150 && (await deadLettered()) === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await deadLettered(), 1, 'dead-lettered after its deliveries failed');
  await api('/_emulator/api/faults', { method: 'DELETE' });
  await page.getByRole('button', { name: 'Redrive all' }).click();
  await page.getByText('Moved 1 to RegistrationsQueue.').waitFor();
  let execution;
  for (let i = 0; i < 150; i++) {
    execution = (await api('/_emulator/api/executions')).find((e) => e.name === stuckId);
    if (execution && execution.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(execution && execution.status, 'SUCCEEDED', 'the redriven order completed');
  // The outbox was drawn again with the new email; the panel opened before is still open.
  await page.locator('#outbox td', { hasText: 'katherine@example.org' }).waitFor();
  assert.equal(await email.evaluate((d) => d.open), true, 'an open panel stays open across refreshes');

  // A registration whose confirmation email keeps failing: the execution fails once the step's
  // retries are spent, and its page says at the top which step failed, with what error. Once the
  // fault is cleared, its Redrive button runs it again: the missing email is sent, once.
  await api('/_emulator/api/faults', { method: 'POST', headers: json, body: JSON.stringify({ target: 'email', mode: 'fail' }) });
  const failing = await api('/api/registrations', {
    method: 'POST',
    headers: { ...json, 'idempotency-key': `walk-failing-${Date.now()}` },
    body: JSON.stringify({
      ticket: 'conference',
      attendee: { firstName: 'Mary', lastName: 'Jackson', email: 'mary@example.org' },
      card: { name: 'Mary Jackson', number: '4012888888881881', expiry: '2030-12', securityCode: '123' },
      billingAddress: { line1: '1 Langley Blvd', city: 'Hampton', postalCode: '23681', countryCode: 'US' },
      newsletter: false,
    }),
  });
  let failed;
  for (let i = 0; i < 300; i++) {
    failed = (await api('/_emulator/api/executions')).find((e) => e.name === failing.registrationId);
    if (failed && failed.status !== 'RUNNING') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(failed && failed.status, 'FAILED', 'the email step failed the execution');
  await api('/_emulator/api/faults', { method: 'DELETE' });
  await page.goto(`${emulator.url}/_emulator#execution=${failing.registrationId}`);
  const banner = page.locator('#execution .failure-banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /The step that failed:\s*SendConfirmation: \S+/, `the banner names the step and its error: ${await banner.textContent()}`);
  assert.equal(await state('SendConfirmation').getAttribute('data-status'), 'FAILED', 'the failed step is drawn as failed');
  assert.equal(await state('SaveOrder').getAttribute('data-status'), 'SUCCEEDED', 'a step that completed stays done');
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on a failed execution');
  await screenshot(page.locator('#execution'), 'inspector-failed-execution');
  // The executions filtered by status: the failed one is there, and nothing else.
  await page.selectOption('#execution-status', 'FAILED');
  await page.waitForFunction(() => {
    const statuses = [...document.querySelectorAll('#executions tbody td:nth-child(2) span')].map((s) => s.textContent);
    return statuses.length > 0 && statuses.every((s) => s === 'FAILED');
  });
  await page.selectOption('#execution-status', '');
  const emailsTo = async (address) => (await api('/_emulator/api/outbox'))
    .filter((e) => JSON.stringify(e.to).includes(address)).length;
  assert.equal(await emailsTo('mary@example.org'), 0, 'no confirmation while the email step fails');
  await page.getByRole('button', { name: 'Redrive' }).click();
  await page.locator('#execution h3 .SUCCEEDED').waitFor({ timeout: 20000 });
  assert.match(await page.textContent('#execution'), /Redriven 1×/, 'the page says it was redriven');
  assert.equal(await emailsTo('mary@example.org'), 1, 'the redrive sent the missing email, once');
  assert.equal(await page.getByRole('button', { name: 'Redrive' }).count(), 0, 'a succeeded execution offers no redrive');

  // A search keeps, in every section, the rows that mention it: one attendee's order and email.
  await page.fill('#search', 'KATHERINE@example.org');
  await page.locator('#orders tbody tr').first().waitFor();
  const rows = async (section) => page.locator(`#${section} tbody tr`).count();
  // Each section is filtered as it is drawn again, one after the other: wait for both.
  for (let i = 0; i < 30 && ((await rows('orders')) !== 1 || (await rows('outbox')) !== 1); i++) await page.waitForTimeout(100);
  assert.equal(await rows('orders'), 1, 'one order matches');
  assert.equal(await rows('outbox'), 1, 'one email matches');
  assert.match(await page.textContent('#orders tbody'), /Katherine/);
  await page.fill('#search', '');

  // The sections are a click away, from a bar that stays in view.
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Faults' }).click();
  await page.waitForFunction(() => {
    const box = document.getElementById('faults-section').getBoundingClientRect();
    return box.top >= 0 && box.top < window.innerHeight;
  });

  // One page heading; `/` goes to the search box.
  assert.equal(await page.locator('h1').count(), 1, 'the inspector has its <h1>');
  await page.evaluate(() => document.activeElement.blur());
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search', '/ focuses the search');
  await page.evaluate(() => document.activeElement.blur());

  // Text selected in a section stays selected while the section changes under it: the section is
  // drawn again once the selection is gone.
  const newest = page.locator('#orders tbody code').first();
  await newest.evaluate((code) => {
    const range = document.createRange();
    range.selectNodeContents(code);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  });
  const selected = await page.evaluate(() => window.getSelection().toString());
  const later = await api('/api/registrations', {
    method: 'POST',
    headers: { ...json, 'idempotency-key': `walk-${Date.now()}` },
    body: JSON.stringify({
      ticket: 'conference',
      attendee: { firstName: 'Dorothy', lastName: 'Vaughan', email: 'dorothy@example.org' },
      card: { name: 'Dorothy Vaughan', number: '4012888888881881', expiry: '2030-12', securityCode: '123' },
      billingAddress: { line1: '1 Langley Blvd', city: 'Hampton', postalCode: '23681', countryCode: 'US' },
      newsletter: false,
    }),
  });
  for (let i = 0; i < 100 && !(await api('/_emulator/api/orders')).some((o) => o.orderId === later.registrationId); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.waitForTimeout(2500); // a refresh comes every two seconds
  assert.equal(await page.evaluate(() => window.getSelection().toString()), selected, 'the selection survives a refresh');
  await page.evaluate(() => window.getSelection().removeAllRanges());
  await page.locator('#orders td', { hasText: 'Dorothy' }).waitFor();

  // Purge asks first, and wants the queue's name typed; Delete asks too.
  const parked = 'RegistrationsDeadLetterQueue';
  await api(`/_emulator/api/queues/${parked}/messages`, { method: 'POST', headers: json, body: '{"test": "purge"}' });
  await api(`/_emulator/api/queues/${parked}/messages`, { method: 'POST', headers: json, body: '{"test": "delete"}' });
  const waiting = async () => (await api('/_emulator/api/queues')).find((q) => q.name === parked).visible;
  const parkedBefore = await waiting();
  const purge = page.locator('#queues tr', { hasText: parked }).getByRole('button', { name: 'Purge' });
  await purge.waitFor();
  page.once('dialog', (dialog) => dialog.accept('not the name'));
  await purge.click();
  await page.getByText(`Not purged: ${parked} was not typed.`).waitFor();
  assert.equal(await waiting(), parkedBefore, 'a purge not confirmed removes nothing');
  await page.locator('#queues tr', { hasText: parked }).locator('details summary').first().click();
  const remove = page.locator('#queues tr', { hasText: parked }).getByRole('button', { name: 'Delete' }).first();
  page.once('dialog', (dialog) => dialog.dismiss());
  await remove.click();
  await page.getByText('Not deleted.').waitFor();
  assert.equal(await waiting(), parkedBefore, 'a delete not confirmed removes nothing');
  page.once('dialog', (dialog) => dialog.accept(parked));
  await purge.click();
  await page.getByText(`Purged ${parkedBefore}.`).waitFor();
  assert.equal(await waiting(), 0, 'purged once confirmed');

  // On a phone, the inspector's rows read as cards: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(emulator.url + '/_emulator');
  await page.locator('#orders tbody tr').first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the inspector fits a phone (${overflow}px too wide)`);
  assert.deepEqual(await accessibilityProblems(page), [], 'axe-core on the inspector (phone)');
  assert.deepEqual(blocked, [], 'nothing blocked by the Content-Security-Policy');
  console.log(`ok: browser walk (registration ${id}; layout shift while the tickets load on a phone: ${layoutShift.toFixed(3)})`);
} finally {
  await browser?.close();
  emulator.stop();
}
