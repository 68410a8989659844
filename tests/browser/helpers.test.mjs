// The page's pure helpers (web/app.js exports them under Node): the card rules mirror the
// server's (shared/domain/src/card.rs), so that the page catches what the server would refuse.
//
//   node --test tests/browser/helpers.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const Registration = createRequire(import.meta.url)('../../web/app.js');

test('card numbers are grouped as printed, by brand', () => {
  assert.equal(Registration.formatCardNumber('4012888888881881'), '4012 8888 8888 1881');
  assert.equal(Registration.formatCardNumber('378282246310005'), '3782 822463 10005');
  assert.equal(Registration.formatCardNumber('4012-8888 88'), '4012 8888 88');
  assert.equal(Registration.formatCardNumber('4'.repeat(25)).replace(/ /g, '').length, 19);
});

test('brands follow the issuer prefixes', () => {
  const brand = (n) => (Registration.cardBrand(n) || { name: null }).name;
  assert.equal(brand('4012888888881881'), 'Visa');
  assert.equal(brand('5555555555554444'), 'Mastercard');
  assert.equal(brand('2221000000000009'), 'Mastercard');
  assert.equal(brand('378282246310005'), 'American Express');
  assert.equal(brand('6011111111111117'), 'Discover');
  assert.equal(brand('3530111333300000'), 'JCB');
  assert.equal(brand('9999'), null);
});

test('card numbers have their brand\'s lengths, as the server checks', () => {
  assert.equal(Registration.cardNumberError('4012888888881881'), '');
  assert.equal(Registration.cardNumberError('401288888881'), 'Card number must be 13 to 19 digits.');
  assert.match(Registration.cardNumberError('555555555555444'), /Mastercard card number has 16 digits/);
  assert.match(Registration.cardNumberError('3782822463100059'), /American Express card number has 15 digits/);
  assert.match(Registration.cardNumberError('4012888888881882'), /not valid/);
});

test('security codes have their brand\'s length', () => {
  assert.equal(Registration.securityCodeError('123', '4012888888881881'), '');
  assert.equal(Registration.securityCodeError('1234', '378282246310005'), '');
  assert.match(Registration.securityCodeError('123', '378282246310005'), /American Express card has 4 digits/);
  assert.match(Registration.securityCodeError('1234', '4012888888881881'), /Visa card has 3 digits/);
  assert.equal(Registration.securityCodeError('1234', ''), '', 'either length before the number is known');
});

test('the expiry is typed as MM / YY and sent as YYYY-MM', () => {
  for (const typed of ['06/28', '06 / 28', '6/28', '06/2028', '0628', '2028-06']) {
    assert.equal(Registration.parseExpiry(typed), '2028-06', typed);
  }
  for (const typed of ['13/28', '00/28', '628', 'june', '06/2', '']) {
    assert.equal(Registration.parseExpiry(typed), null, typed);
  }
  const now = new Date(Date.UTC(2026, 10, 30));
  assert.equal(Registration.expiryError('11 / 26', now), '');
  assert.equal(Registration.expiryError('10/26', now), 'This card has expired.');
  assert.match(Registration.expiryError('06/2', now), /MM \/ YY/);
  const body = Registration.buildRequest({ cardExpiry: '06 / 28', cardNumber: '4012 8888 8888 1881' });
  assert.equal(body.card.expiry, '2028-06');
  assert.equal(body.card.number, '4012888888881881');
});

test('the expiry reads MM / YY as it is typed', () => {
  const typed = (value, deleting = false) => Registration.formatExpiry(value, deleting);
  assert.equal(typed('1230'), '12 / 30');
  assert.equal(typed('12'), '12 / ');
  assert.equal(typed('12', true), '12', 'a backspace removes the slash');
  assert.equal(typed('4'), '04 / ', 'a first digit above 1 is a month');
  assert.equal(typed('1/'), '01 / ');
  assert.equal(typed('06/2028'), '06 / 2028');
  assert.equal(typed('2030-12'), '2030-12', 'the API\'s form is left as typed');
  for (const value of ['1230', '1/28', '06/28', '06/2028', '12 / 30']) {
    assert.ok(Registration.parseExpiry(typed(value)), `${value} is still understood`);
  }
});

test('the page takes the email addresses the server takes, and refuses the others', async () => {
  // The same cases as the server's test (shared/domain text.rs, email_cases_are_the_pages_too).
  const { readFile } = await import('node:fs/promises');
  const cases = JSON.parse(await readFile(new URL('../../shared/domain/data/email-cases.json', import.meta.url), 'utf8'));
  for (const { value, valid } of cases) {
    assert.equal(Registration.emailError(value) === '', valid, `${value} is ${valid ? '' : 'not '}an address`);
  }
});

test('the conference\'s days read as people write them', () => {
  const days = (start, end) => Registration.formatDates({ start, end });
  assert.equal(days('2027-05-20', '2027-05-21'), '20–21 May 2027');
  assert.equal(days('2027-05-30', '2027-06-01'), '30 May – 1 June 2027');
  assert.equal(days('2027-12-31', '2028-01-01'), '31 December 2027 – 1 January 2028');
  assert.equal(days('2027-05-20', '2027-05-20'), '20 May 2027');
  assert.equal(days('2027-13-01', '2027-13-02'), '', 'not a date');
  assert.equal(Registration.formatDates(undefined), '');
});

test('a 429 is its own outcome, and the wait is said as a person would', () => {
  assert.equal(Registration.classifyStatus(429), 'throttled');
  assert.equal(Registration.classifyStatus(503), 'unavailable');
  assert.equal(Registration.whenToRetry(null), 'You can try again in a few seconds.');
  assert.equal(Registration.whenToRetry(1), 'You can try again in 1 second.');
  assert.equal(Registration.whenToRetry(30), 'You can try again in 30 seconds.');
  const now = Date.UTC(2026, 11, 7, 12, 0, 0);
  const later = Registration.whenToRetry(3600, now, 'en-GB');
  const expected = new Date(now + 3600 * 1000).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });
  assert.equal(later, `You can try again after ${expected}.`);
});
