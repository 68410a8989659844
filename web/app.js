/*
 * app.js: behaviour of the conference registration page (index.html).
 *
 * - Loads the ticket list from GET /api/tickets and renders it as radio buttons.
 * - Validates the form on the client with rules that mirror the server's.
 * - Sends POST /api/registrations with one Idempotency-Key per submission. While
 *   a submission's outcome is unknown (network error, timeout, 408, 409,
 *   5xx) the form is locked and "Try again" resends the very same body with the
 *   same key, so that a payment that did go through is never made twice; a new
 *   key comes only after a final answer or a deliberate "Edit the details".
 * - Shows the outcome (confirmation, field errors, decline, retry, "too many
 *   tries: wait until …") accessibly.
 *
 * The validation and formatting helpers at the top are pure and have no DOM
 * dependency; they are exported as window.Registration in the browser and via
 * module.exports under Node so that they can be tested on their own.
 * Plain ES5-style JavaScript, no frameworks, no build step, no external resources.
 */
(function () {
  'use strict';

  /* ------------------------------------------------------------------ */
  /* Pure helpers (no DOM)                                               */
  /* ------------------------------------------------------------------ */

  var MAX_NAME_LENGTH = 100;
  var MAX_EMAIL_LENGTH = 254;
  var MAX_POSTAL_CODE_LENGTH = 16;
  var CONTROL_CHARACTERS = /[\u0000-\u001F\u007F-\u009F]/;

  /** Length in Unicode code points (what "characters" usually means to a server). */
  function charLength(text) {
    return Array.from(text).length;
  }

  function trimmed(value) {
    return value === undefined || value === null ? '' : String(value).trim();
  }

  /** Removes the spaces and dashes people type inside card numbers. */
  function stripCardNumber(value) {
    return (value === undefined || value === null ? '' : String(value)).replace(/[\s-]+/g, '');
  }

  /** Luhn (mod 10) check over a string of digits. */
  function luhnValid(digits) {
    if (!/^\d+$/.test(digits)) return false;
    var sum = 0;
    var double = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (double) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      double = !double;
    }
    return sum % 10 === 0;
  }

  /** Error message for a person's name (or organization), or '' if valid. */
  function nameError(value, label, optional) {
    if (value === '') return optional ? '' : 'Enter your ' + label.toLowerCase() + '.';
    if (charLength(value) > MAX_NAME_LENGTH) {
      return label + ' must be ' + MAX_NAME_LENGTH + ' characters or fewer.';
    }
    if (CONTROL_CHARACTERS.test(value)) return label + ' must not contain control characters.';
    return '';
  }

  function emailError(value) {
    if (value === '') return 'Enter your email address.';
    if (charLength(value) > MAX_EMAIL_LENGTH) {
      return 'Email address must be ' + MAX_EMAIL_LENGTH + ' characters or fewer.';
    }
    // The server's rule (shared/domain text.rs, EmailAddress): dot-atoms before the @, at most
    // 64 characters; two or more labels after it (letters, digits, inner hyphens, at most 63
    // each), the last not a number. shared/domain/data/email-cases.json holds the cases that
    // both sides' tests walk.
    var at = value.indexOf('@');
    var local = at < 0 ? '' : value.slice(0, at);
    var labels = at < 0 ? [] : value.slice(at + 1).split('.');
    var localOk = local !== '' && local.length <= 64 &&
      local.split('.').every(function (atom) { return /^[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]+$/.test(atom); });
    var domainOk = labels.length >= 2 &&
      labels.every(function (label) { return /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label); }) &&
      !/^\d+$/.test(labels[labels.length - 1]);
    if (!localOk || !domainOk || CONTROL_CHARACTERS.test(value)) {
      return 'Enter an email address like name@example.com.';
    }
    return '';
  }

  /*
   * Card networks by issuer prefix, with the lengths they issue, how they group the digits and
   * the length of their security code: the same rules as the server (shared/domain card.rs).
   */
  var BRANDS = [
    { name: 'Visa', test: function (d) { return /^4/.test(d); }, lengths: [13, 16, 19], cvc: 3 },
    {
      name: 'Mastercard', lengths: [16], cvc: 3,
      test: function (d) {
        var p2 = Number(d.slice(0, 2));
        var p4 = Number(d.slice(0, 4));
        return (p2 >= 51 && p2 <= 55) || (d.length >= 4 && p4 >= 2221 && p4 <= 2720);
      }
    },
    { name: 'American Express', test: function (d) { return /^3[47]/.test(d); }, lengths: [15], cvc: 4, groups: [4, 6, 5] },
    {
      name: 'Discover', lengths: [16, 17, 18, 19], cvc: 3,
      test: function (d) {
        var p3 = Number(d.slice(0, 3));
        return /^6011/.test(d) || /^65/.test(d) || (d.length >= 3 && p3 >= 644 && p3 <= 649);
      }
    },
    {
      name: 'JCB', lengths: [16, 17, 18, 19], cvc: 3,
      test: function (d) {
        var p4 = Number(d.slice(0, 4));
        return d.length >= 4 && p4 >= 3528 && p4 <= 3589;
      }
    }
  ];

  /** The brand of the digits typed so far, or null when no prefix is known yet. */
  function cardBrand(digits) {
    var d = stripCardNumber(digits);
    if (!/^\d+$/.test(d)) return null;
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].test(d)) return BRANDS[i];
    }
    return null;
  }

  /** The digits grouped as printed on the card: 4-6-5 for American Express, else by fours. */
  function formatCardNumber(value) {
    var digits = stripCardNumber(value).replace(/\D/g, '').slice(0, 19);
    var brand = cardBrand(digits);
    var groups = brand && brand.groups ? brand.groups : [4, 4, 4, 4, 3];
    var out = [];
    var at = 0;
    for (var i = 0; i < groups.length && at < digits.length; i++) {
      out.push(digits.slice(at, at + groups[i]));
      at += groups[i];
    }
    return out.join(' ');
  }

  /** "13, 16 or 19" */
  function inWords(lengths) {
    if (lengths.length === 1) return String(lengths[0]);
    if (lengths[lengths.length - 1] - lengths[0] === lengths.length - 1) {
      return lengths[0] + ' to ' + lengths[lengths.length - 1];
    }
    return lengths.slice(0, -1).join(', ') + ' or ' + lengths[lengths.length - 1];
  }

  function cardNumberError(digits) {
    if (digits === '') return 'Enter the card number.';
    if (!/^\d+$/.test(digits)) return 'Card number can only contain digits, spaces and dashes.';
    if (digits.length < 13 || digits.length > 19) return 'Card number must be 13 to 19 digits.';
    var brand = cardBrand(digits);
    if (brand && brand.lengths.indexOf(digits.length) === -1) {
      return 'A ' + brand.name + ' card number has ' + inWords(brand.lengths) + ' digits.';
    }
    if (!luhnValid(digits)) return 'This card number is not valid; check it for typing mistakes.';
    return '';
  }

  /**
   * The expiry typed as MM / YY, MM/YY, MM/YYYY or MMYY (or YYYY-MM), as YYYY-MM; null when it
   * is none of these.
   */
  function parseExpiry(value) {
    var text = trimmed(value);
    var match = /^(\d{4})-(\d{2})$/.exec(text);
    if (match) return Number(match[2]) >= 1 && Number(match[2]) <= 12 ? text : null;
    match = /^(\d{1,2})\s*[/.-]?\s*(\d{2}|\d{4})$/.exec(text.replace(/\s*\/\s*/, '/'));
    if (!match || (match[1].length === 1 && !/[/.-]/.test(text))) return null;
    var month = Number(match[1]);
    if (month < 1 || month > 12) return null;
    var year = match[2].length === 2 ? 2000 + Number(match[2]) : Number(match[2]);
    return year + '-' + (month < 10 ? '0' : '') + month;
  }

  /**
   * The expiry as it is being typed, shown as MM / YY: 1230 reads 12 / 30, a first digit above 1
   * (or one followed by a slash) is a one-digit month (4 reads 04 / ), and a four-digit year stays
   * four digits (06 / 2028). `deleting` leaves a trailing " / " out, so that a backspace can
   * remove it. YYYY-MM, as the API writes it, is left as typed.
   */
  function formatExpiry(value, deleting) {
    var text = String(value);
    if (/^\d{4}-/.test(text)) return text;
    var digits = text.replace(/\D/g, '');
    if (/^\s*\d\s*[/.-]/.test(text) || /^[2-9]/.test(digits)) digits = '0' + digits;
    digits = digits.slice(0, 6);
    if (digits.length < 2) return digits;
    if (digits.length === 2) return deleting ? digits : digits + ' / ';
    return digits.slice(0, 2) + ' / ' + digits.slice(2);
  }

  var MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
    'September', 'October', 'November', 'December'];

  /**
   * The conference's days as people write them, from the API's ISO dates: 20–21 May 2027,
   * 30 May – 1 June 2027, 31 December 2027 – 1 January 2028, or one day; '' when they are not
   * dates.
   */
  function formatDates(dates) {
    var parse = function (text) {
      var match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(text || ''));
      return match ? { year: Number(match[1]), month: MONTHS[Number(match[2]) - 1], day: Number(match[3]) } : null;
    };
    var start = parse(dates && dates.start);
    var end = parse(dates && dates.end);
    if (!start || !end || !start.month || !end.month) return '';
    if (start.year !== end.year) {
      return start.day + ' ' + start.month + ' ' + start.year + ' – ' + end.day + ' ' + end.month + ' ' + end.year;
    }
    if (start.month !== end.month) {
      return start.day + ' ' + start.month + ' – ' + end.day + ' ' + end.month + ' ' + end.year;
    }
    if (start.day !== end.day) return start.day + '–' + end.day + ' ' + end.month + ' ' + end.year;
    return start.day + ' ' + start.month + ' ' + start.year;
  }

  /** An expiry (any form [parseExpiry] takes) that is not before the current month (UTC). */
  function expiryError(value, now) {
    if (trimmed(value) === '') return 'Enter the expiry date.';
    var parsed = parseExpiry(value);
    if (!parsed) return 'Enter the expiry date as MM / YY, for example 08 / 30.';
    var date = now || new Date();
    var year = Number(parsed.slice(0, 4));
    var month = Number(parsed.slice(5, 7));
    var thisYear = date.getUTCFullYear();
    var thisMonth = date.getUTCMonth() + 1;
    if (year < thisYear || (year === thisYear && month < thisMonth)) return 'This card has expired.';
    return '';
  }

  /** The security code: as long as the brand's (4 digits for American Express, 3 for others). */
  function securityCodeError(value, cardNumber) {
    if (value === '') return 'Enter the security code.';
    if (!/^\d{3,4}$/.test(value)) return 'Security code must be 3 or 4 digits.';
    var brand = cardBrand(cardNumber || '');
    if (brand && value.length !== brand.cvc) {
      return 'The security code of ' + (brand.name === 'American Express' ? 'an ' : 'a ') + brand.name +
        ' card has ' + brand.cvc + ' digits (' + (brand.cvc === 4 ? 'on the front' : 'on the back') + ').';
    }
    return '';
  }

  /**
   * Builds the request body from raw form values:
   * {ticket, firstName, lastName, email, organization, cardName, cardNumber,
   *  cardExpiry, cardSecurityCode, line1, city, postalCode, countryCode, newsletter}
   */
  function buildRequest(values) {
    var v = values || {};
    var attendee = {
      firstName: trimmed(v.firstName),
      lastName: trimmed(v.lastName),
      email: trimmed(v.email)
    };
    var organization = trimmed(v.organization);
    if (organization !== '') attendee.organization = organization;
    return {
      ticket: trimmed(v.ticket),
      attendee: attendee,
      card: {
        name: trimmed(v.cardName),
        number: stripCardNumber(v.cardNumber),
        expiry: parseExpiry(v.cardExpiry) || trimmed(v.cardExpiry),
        securityCode: trimmed(v.cardSecurityCode)
      },
      billingAddress: {
        line1: trimmed(v.line1),
        city: trimmed(v.city),
        postalCode: trimmed(v.postalCode),
        countryCode: trimmed(v.countryCode).toUpperCase()
      },
      newsletter: v.newsletter === true
    };
  }

  /**
   * Validates a request body built by buildRequest. Returns an object whose
   * keys are the dotted JSON paths the server uses (e.g. "attendee.email")
   * and whose values are messages; empty when the request is valid.
   */
  function validateRequest(request, now) {
    var errors = {};
    function check(key, message) {
      if (message) errors[key] = message;
    }
    var a = request.attendee || {};
    var c = request.card || {};
    var b = request.billingAddress || {};

    check('ticket', request.ticket ? '' : 'Choose a ticket.');
    check('attendee.firstName', nameError(a.firstName || '', 'First name', false));
    check('attendee.lastName', nameError(a.lastName || '', 'Last name', false));
    check('attendee.email', emailError(a.email || ''));
    check('attendee.organization', nameError(a.organization || '', 'Organization', true));

    var cardName = c.name || '';
    check('card.name', cardName === '' ? 'Enter the name as it appears on the card.'
      : (CONTROL_CHARACTERS.test(cardName) ? 'Name on card must not contain control characters.' : ''));
    check('card.number', cardNumberError(c.number || ''));
    check('card.expiry', expiryError(c.expiry || '', now));
    check('card.securityCode', securityCodeError(c.securityCode || '', c.number || ''));

    check('billingAddress.line1', b.line1 ? '' : 'Enter the first line of the billing address.');
    check('billingAddress.city', b.city ? '' : 'Enter the town or city.');
    var postal = b.postalCode || '';
    check('billingAddress.postalCode', postal === '' ? 'Enter the postal code.'
      : (charLength(postal) > MAX_POSTAL_CODE_LENGTH
        ? 'Postal code must be ' + MAX_POSTAL_CODE_LENGTH + ' characters or fewer.' : ''));
    var country = b.countryCode || '';
    check('billingAddress.countryCode', country === '' ? 'Choose a country.'
      : (/^[A-Z]{2}$/.test(country) ? '' : 'Country code must be two letters.'));
    return errors;
  }

  /** Formats {value: "250.00", currency: "USD"} with Intl.NumberFormat. */
  function formatMoney(amount, locale) {
    if (!amount || typeof amount !== 'object') return '';
    var value = trimmed(amount.value);
    var currency = trimmed(amount.currency).toUpperCase();
    var number = Number(value);
    if (value === '' || !isFinite(number)) return (value + ' ' + currency).trim();
    try {
      return new Intl.NumberFormat(locale || undefined, { style: 'currency', currency: currency }).format(number);
    } catch (e) {
      return (value + ' ' + currency).trim();
    }
  }

  /** Keeps only well-formed tickets from a GET /api/tickets response; null if unusable. */
  function normalizeTickets(data) {
    if (!data || !Array.isArray(data.tickets)) return null;
    return data.tickets.filter(function (t) {
      return t && typeof t.id === 'string' && t.id !== '' && typeof t.name === 'string' &&
        t.price && typeof t.price === 'object';
    }).map(function (t) {
      return {
        id: t.id,
        name: t.name,
        description: typeof t.description === 'string' ? t.description : '',
        price: { value: trimmed(t.price.value), currency: trimmed(t.price.currency) }
      };
    });
  }

  /** Maps an HTTP status of POST /api/registrations to the kind of outcome. */
  function classifyStatus(status) {
    if (status >= 200 && status < 300) return 'success';
    if (status === 400 || status === 422) return 'invalid';
    if (status === 402) return 'declined';
    if (status === 409) return 'conflict';
    if (status === 413) return 'too-large';
    // Nothing was charged: a throttle or a card-testing limit answered before any payment.
    if (status === 429) return 'throttled';
    if (status === 408 || status >= 500) return 'unavailable';
    return 'failed';
  }

  /** Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or null. */
  function parseRetryAfter(header, nowMs) {
    var value = trimmed(header);
    if (value === '') return null;
    if (/^\d+$/.test(value)) return Number(value);
    var at = Date.parse(value);
    if (isNaN(at)) return null;
    var seconds = Math.ceil((at - (nowMs === undefined ? Date.now() : nowMs)) / 1000);
    return seconds > 0 ? seconds : 0;
  }

  /**
   * When a refused attempt may be made again, in words: a few seconds, a number of seconds, or
   * a time of day (the attendee's clock) for a longer wait.
   */
  function whenToRetry(seconds, nowMs, locale) {
    if (typeof seconds !== 'number' || !(seconds >= 1)) return 'You can try again in a few seconds.';
    if (seconds < 60) return 'You can try again in ' + seconds + (seconds === 1 ? ' second.' : ' seconds.');
    var at = new Date((nowMs === undefined ? Date.now() : nowMs) + seconds * 1000);
    var time = at.toLocaleTimeString(locale || undefined, { hour: '2-digit', minute: '2-digit' });
    return 'You can try again after ' + time + '.';
  }

  /**
   * Makes a message that came from the server safe and short for display:
   * non-strings are replaced, length is capped, and the card number (if given)
   * is never echoed back.
   */
  function sanitizeServerText(text, cardNumber, fallback) {
    if (typeof text !== 'string' || text.trim() === '') return fallback || '';
    var out = text.replace(CONTROL_CHARACTERS, ' ').trim();
    var digits = stripCardNumber(cardNumber);
    if (digits.length >= 12) {
      // Remove the number whether it appears plain or with separators.
      var pattern = new RegExp(digits.split('').join('[\\s-]*'), 'g');
      out = out.replace(pattern, '[card number]');
    }
    if (out.length > 300) out = out.slice(0, 297) + '...';
    return out;
  }

  /** A new idempotency key (UUID v4). */
  function newIdempotencyKey(cryptoObject) {
    var c = cryptoObject || (typeof crypto !== 'undefined' ? crypto : null);
    if (c && typeof c.randomUUID === 'function') return c.randomUUID();
    // crypto.randomUUID needs a secure context; fall back to getRandomValues.
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (x) {
      return (x < 16 ? '0' : '') + x.toString(16);
    }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' +
      hex.slice(16, 20) + '-' + hex.slice(20);
  }

  var Registration = {
    stripCardNumber: stripCardNumber,
    luhnValid: luhnValid,
    nameError: nameError,
    emailError: emailError,
    cardNumberError: cardNumberError,
    cardBrand: cardBrand,
    formatCardNumber: formatCardNumber,
    parseExpiry: parseExpiry,
    formatExpiry: formatExpiry,
    expiryError: expiryError,
    securityCodeError: securityCodeError,
    buildRequest: buildRequest,
    validateRequest: validateRequest,
    formatMoney: formatMoney,
    formatDates: formatDates,
    normalizeTickets: normalizeTickets,
    classifyStatus: classifyStatus,
    parseRetryAfter: parseRetryAfter,
    whenToRetry: whenToRetry,
    sanitizeServerText: sanitizeServerText,
    newIdempotencyKey: newIdempotencyKey
  };

  if (typeof module !== 'undefined' && module.exports) module.exports = Registration;
  if (typeof window !== 'undefined') window.Registration = Registration;
  if (typeof document === 'undefined') return;

  /* ------------------------------------------------------------------ */
  /* Page behaviour                                                      */
  /* ------------------------------------------------------------------ */

  var REQUEST_TIMEOUT_MS = 30000;
  var MAX_RETRY_WAIT_SECONDS = 120;
  var UNAVAILABLE_MESSAGE =
    'We could not get an answer about your payment. Trying again is safe: this registration ' +
    'will not be charged twice.';

  /* Dotted request paths -> input ids ("ticket" is the radio group). */
  var FIELDS = {
    'ticket': { id: 'ticket', label: 'Ticket' },
    'attendee.firstName': { id: 'first-name', label: 'First name' },
    'attendee.lastName': { id: 'last-name', label: 'Last name' },
    'attendee.email': { id: 'email', label: 'Email address' },
    'attendee.organization': { id: 'organization', label: 'Organization' },
    'card.name': { id: 'card-name', label: 'Name on card' },
    'card.number': { id: 'card-number', label: 'Card number' },
    'card.expiry': { id: 'card-expiry', label: 'Expiry date' },
    'card.securityCode': { id: 'card-cvc', label: 'Security code' },
    'billingAddress.line1': { id: 'address-line1', label: 'Address line 1' },
    'billingAddress.city': { id: 'address-city', label: 'Town or city' },
    'billingAddress.postalCode': { id: 'address-postal', label: 'Postal code' },
    'billingAddress.countryCode': { id: 'address-country', label: 'Country' },
    'newsletter': { id: 'newsletter', label: 'Newsletter' }
  };

  var locale = (typeof navigator !== 'undefined' && navigator.language) || undefined;

  var el = {};
  var state = {
    tickets: [],
    inFlight: false,
    /* The submission the current key belongs to: {key, body, final}. */
    attempt: null,
    /* True while the current attempt's outcome is unknown: the fields cannot change. */
    locked: false,
    retryTimer: null
  };

  function $(id) {
    return document.getElementById(id);
  }

  function init() {
    el.form = $('registration-form');
    el.submit = $('submit-button');
    el.outcome = $('outcome');
    el.ticketOptions = $('ticket-options');
    el.ticketStatus = $('ticket-status');
    el.conference = $('conference');
    el.ticketFieldset = $('ticket-fieldset');
    el.reloadTickets = $('reload-tickets');
    el.confirmation = $('confirmation');
    el.confirmationTitle = $('confirmation-title');
    el.registerAnother = $('register-another');

    // Actions (the Try again button) live outside the live region so that a
    // countdown on the button is not announced every second.
    el.outcomeActions = document.createElement('div');
    el.outcomeActions.className = 'outcome-actions';
    el.outcomeActions.hidden = true;
    el.outcome.parentNode.insertBefore(el.outcomeActions, el.outcome.nextSibling);

    el.submitStatus = $('submit-status');
    el.cardNumber = $('card-number');
    el.cardBrand = $('card-brand');
    el.cardNumber.addEventListener('input', onCardNumberInput);
    el.cardExpiry = $('card-expiry');
    el.cardExpiry.addEventListener('input', onExpiryInput);

    el.form.addEventListener('submit', function (event) {
      event.preventDefault();
      submitRegistration();
    });
    el.form.addEventListener('input', onEdit);
    el.form.addEventListener('change', onEdit);
    el.form.addEventListener('focusout', onFieldBlur);
    el.reloadTickets.addEventListener('click', loadTickets);
    el.registerAnother.addEventListener('click', startOver);

    el.submit.disabled = false;
    loadTickets();
  }

  /* ---------------- Tickets ---------------- */

  function loadTickets() {
    el.ticketStatus.textContent = 'Loading tickets…';
    el.ticketStatus.className = 'ticket-status';
    el.ticketStatus.hidden = false;
    el.reloadTickets.hidden = true;

    fetch('/api/tickets', { headers: { 'Accept': 'application/json' }, cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('status ' + response.status);
        return response.json();
      })
      .then(function (data) {
        var tickets = normalizeTickets(data);
        if (!tickets) throw new Error('unexpected response');
        renderConference(data);
        renderTickets(tickets);
      })
      .catch(function () {
        el.ticketOptions.textContent = '';
        state.tickets = [];
        el.ticketStatus.className = 'ticket-status notice notice-error';
        el.ticketStatus.textContent =
          'Tickets could not be loaded, so registration is not possible right now. ' +
          'Check that the service is running, then try again.';
        el.reloadTickets.hidden = false;
        updateSubmitLabel();
      });
  }

  /** What the attendee buys into, from the API: the conference's name, days and venue. */
  function renderConference(data) {
    if (!data || typeof data.conference !== 'string' || data.conference === '') return;
    var line = [data.conference, formatDates(data.dates), typeof data.venue === 'string' ? data.venue : '']
      .filter(Boolean).join(' · ');
    el.conference.textContent = line;
    document.title = 'Register for ' + data.conference;
  }

  function renderTickets(tickets) {
    var previous = selectedTicketId();
    state.tickets = tickets;
    el.ticketOptions.textContent = '';
    if (tickets.length === 0) {
      el.ticketStatus.className = 'ticket-status notice notice-error';
      el.ticketStatus.textContent = 'No tickets are available at the moment.';
      el.reloadTickets.hidden = false;
      updateSubmitLabel();
      return;
    }
    el.ticketStatus.hidden = true;
    tickets.forEach(function (ticket, index) {
      var inputId = 'ticket-' + index;
      var option = document.createElement('div');
      option.className = 'ticket-option';

      var input = document.createElement('input');
      input.type = 'radio';
      input.name = 'ticket';
      input.id = inputId;
      input.value = ticket.id;
      if (ticket.id === previous) input.checked = true;

      var label = document.createElement('label');
      label.htmlFor = inputId;
      var name = document.createElement('span');
      name.className = 'ticket-name';
      name.textContent = ticket.name;
      var price = document.createElement('span');
      price.className = 'ticket-price';
      price.textContent = formatMoney(ticket.price, locale);
      label.appendChild(name);
      label.appendChild(document.createTextNode(' '));
      label.appendChild(price);

      option.appendChild(input);
      option.appendChild(label);
      if (ticket.description) {
        var description = document.createElement('p');
        description.className = 'ticket-description';
        description.id = inputId + '-description';
        description.textContent = ticket.description;
        input.setAttribute('aria-describedby', description.id);
        option.appendChild(description);
      }
      el.ticketOptions.appendChild(option);
    });
    // Re-apply an error shown before the tickets were (re)loaded.
    var error = $('ticket-error');
    if (!error.hidden) markInvalid(ticketInputs(), 'ticket-error', true);
    updateSubmitLabel();
  }

  function ticketInputs() {
    return Array.prototype.slice.call(el.form.querySelectorAll('input[name="ticket"]'));
  }

  function selectedTicketId() {
    var checked = el.form.querySelector('input[name="ticket"]:checked');
    return checked ? checked.value : '';
  }

  function findTicket(id) {
    for (var i = 0; i < state.tickets.length; i++) {
      if (state.tickets[i].id === id) return state.tickets[i];
    }
    return null;
  }

  function updateSubmitLabel() {
    if (state.inFlight) return;
    var ticket = findTicket(selectedTicketId());
    el.submit.textContent = ticket ? 'Register and pay ' + formatMoney(ticket.price, locale) : 'Register and pay';
  }

  /* ---------------- Form values and field errors ---------------- */

  function collectValues() {
    function value(id) {
      return $(id).value;
    }
    return {
      ticket: selectedTicketId(),
      firstName: value('first-name'),
      lastName: value('last-name'),
      email: value('email'),
      organization: value('organization'),
      cardName: value('card-name'),
      cardNumber: value('card-number'),
      cardExpiry: value('card-expiry'),
      cardSecurityCode: value('card-cvc'),
      line1: value('address-line1'),
      city: value('address-city'),
      postalCode: value('address-postal'),
      countryCode: value('address-country'),
      newsletter: $('newsletter').checked
    };
  }

  /** Finds the known field for a server key, also for nested keys such as "card.expiry.month". */
  function fieldKeyFor(key) {
    var k = String(key);
    while (k) {
      if (Object.prototype.hasOwnProperty.call(FIELDS, k)) return k;
      var dot = k.lastIndexOf('.');
      if (dot === -1) break;
      k = k.slice(0, dot);
    }
    return null;
  }

  function keyForInputId(id) {
    if (/^ticket-\d+$/.test(id)) return 'ticket';
    for (var key in FIELDS) {
      if (Object.prototype.hasOwnProperty.call(FIELDS, key) && FIELDS[key].id === id) return key;
    }
    return null;
  }

  function inputsFor(key) {
    return key === 'ticket' ? ticketInputs() : [$(FIELDS[key].id)];
  }

  function errorElementFor(key) {
    return $(FIELDS[key].id + '-error');
  }

  function focusTargetFor(key) {
    if (key === 'ticket') {
      var inputs = ticketInputs();
      var checked = inputs.filter(function (i) { return i.checked; })[0];
      return checked || inputs[0] || el.ticketFieldset;
    }
    return $(FIELDS[key].id);
  }

  function setDescribedBy(node, id, on) {
    var tokens = (node.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    tokens = tokens.filter(function (t) { return t !== id; });
    if (on) tokens.push(id);
    if (tokens.length) node.setAttribute('aria-describedby', tokens.join(' '));
    else node.removeAttribute('aria-describedby');
  }

  function markInvalid(inputs, errorId, invalid) {
    inputs.forEach(function (input) {
      if (invalid) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
      setDescribedBy(input, errorId, invalid);
    });
  }

  function showFieldError(key, message) {
    var error = errorElementFor(key);
    error.textContent = '';
    var prefix = document.createElement('span');
    prefix.className = 'visually-hidden';
    prefix.textContent = 'Error: ';
    error.appendChild(prefix);
    error.appendChild(document.createTextNode(message));
    error.hidden = false;
    markInvalid(inputsFor(key), error.id, true);
    var container = key === 'ticket' ? el.ticketFieldset : error.parentNode;
    container.classList.add('has-error');
  }

  function clearFieldError(key) {
    var error = errorElementFor(key);
    if (error.hidden) return;
    error.hidden = true;
    error.textContent = '';
    markInvalid(inputsFor(key), error.id, false);
    var container = key === 'ticket' ? el.ticketFieldset : error.parentNode;
    container.classList.remove('has-error');
  }

  function clearAllFieldErrors() {
    Object.keys(FIELDS).forEach(clearFieldError);
  }

  function hasFieldError(key) {
    return !errorElementFor(key).hidden;
  }

  /** Re-checks one field against the client rules and shows or clears its error. */
  function revalidateField(key) {
    var errors = validateRequest(buildRequest(collectValues()), new Date());
    if (errors[key]) showFieldError(key, errors[key]);
    else clearFieldError(key);
  }

  function onEdit(event) {
    // An edit after a final outcome starts a new submission (new idempotency key).
    if (state.attempt && state.attempt.final) state.attempt = null;
    var key = event.target && event.target.id ? keyForInputId(event.target.id) : null;
    if (!key) return;
    if (key === 'ticket') updateSubmitLabel();
    // Clear an error as soon as the field becomes valid.
    if (hasFieldError(key) && (event.type === 'change' || key !== 'ticket')) revalidateField(key);
  }

  /**
   * Groups the card number as it is typed (keeping the caret after the same digit) and names
   * the brand.
   */
  function onCardNumberInput() {
    var input = el.cardNumber;
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var digitsBeforeCaret = input.value.slice(0, caret).replace(/\D/g, '').length;
    var formatted = formatCardNumber(input.value);
    if (formatted !== input.value) {
      input.value = formatted;
      var at = 0;
      for (var seen = 0; at < formatted.length && seen < digitsBeforeCaret; at++) {
        if (/\d/.test(formatted.charAt(at))) seen++;
      }
      input.setSelectionRange(at, at);
    }
    var brand = cardBrand(formatted);
    el.cardBrand.textContent = brand ? brand.name : '';
  }

  /** Writes the expiry as MM / YY while it is typed (the caret stays at the end). */
  function onExpiryInput(event) {
    var input = el.cardExpiry;
    var deleting = Boolean(event && event.inputType && event.inputType.indexOf('delete') === 0);
    var formatted = formatExpiry(input.value, deleting);
    if (formatted !== input.value) input.value = formatted;
  }

  function onFieldBlur(event) {
    var target = event.target;
    if (!target || !target.id || target.type === 'radio' || target.type === 'checkbox') return;
    // Leaving a field for the submit button: the submission checks everything anyway, and an
    // error shown now would push the button down between the press and the release of the click.
    if (event.relatedTarget === el.submit) return;
    var key = keyForInputId(target.id);
    if (!key) return;
    // Only nag about fields the attendee has filled in or that already show an error.
    if (target.value.trim() !== '' || hasFieldError(key)) revalidateField(key);
  }

  /* ---------------- Outcome region ---------------- */

  function clearRetryTimer() {
    if (state.retryTimer) {
      clearInterval(state.retryTimer);
      state.retryTimer = null;
    }
  }

  /**
   * Replaces the outcome region's content. `kind` is info | success | error | warning;
   * `parts` are strings (paragraphs) or nodes.
   */
  function setOutcome(kind, parts, focus) {
    clearRetryTimer();
    el.outcome.textContent = '';
    el.outcomeActions.textContent = '';
    el.outcomeActions.hidden = true;
    el.outcome.className = kind ? 'outcome notice notice-' + kind : 'outcome';
    (parts || []).forEach(function (part) {
      if (typeof part === 'string') {
        var p = document.createElement('p');
        p.textContent = part;
        el.outcome.appendChild(p);
      } else if (part) {
        el.outcome.appendChild(part);
      }
    });
    if (focus) el.outcome.focus();
  }

  function heading(text) {
    var h = document.createElement('h2');
    h.className = 'outcome-title';
    h.textContent = text;
    return h;
  }

  /** The summary of field errors, with links that move focus to each field. */
  function errorList(entries) {
    var list = document.createElement('ul');
    list.className = 'error-list';
    entries.forEach(function (entry) {
      var item = document.createElement('li');
      if (entry.key) {
        var link = document.createElement('a');
        link.href = '#' + (entry.key === 'ticket' ? 'ticket-fieldset' : FIELDS[entry.key].id);
        link.textContent = entry.text;
        link.addEventListener('click', function (event) {
          event.preventDefault();
          var target = focusTargetFor(entry.key);
          if (target.scrollIntoView) target.scrollIntoView({ block: 'center' });
          target.focus();
        });
        item.appendChild(link);
      } else {
        item.textContent = entry.text;
      }
      list.appendChild(item);
    });
    return list;
  }

  function showValidationErrors(errors, fromServer, cardNumber) {
    var entries = [];
    var shown = {};
    Object.keys(errors).forEach(function (rawKey) {
      var message = sanitizeServerText(errors[rawKey], cardNumber, 'This value is not valid.');
      var key = fieldKeyFor(rawKey);
      if (key) {
        // Several server keys may land on one field; show the first.
        if (!shown[key]) {
          shown[key] = true;
          showFieldError(key, message);
          entries.push({ key: key, text: fromServer ? FIELDS[key].label + ': ' + message : message });
        }
      } else {
        entries.push({ key: null, text: message });
      }
    });
    // Keep the summary in the order of the form.
    var order = Object.keys(FIELDS);
    entries.sort(function (x, y) {
      var a = x.key ? order.indexOf(x.key) : order.length;
      var b = y.key ? order.indexOf(y.key) : order.length;
      return a - b;
    });
    var count = entries.length;
    var title = count === 1 ? 'There is a problem with 1 field' : 'There are problems with ' + count + ' fields';
    if (count === 0) {
      setOutcome('error', [heading('The registration could not be processed'),
        'Please check your details and try again. Nothing was charged.'], true);
      return;
    }
    setOutcome('error', [heading(title),
      fromServer ? 'The registration was not accepted and nothing was charged. Please correct the following:'
        : 'Please correct the following before registering:',
      errorList(entries)], true);
  }

  /**
   * Locks or unlocks the fields: while an attempt's outcome is unknown they cannot change, so
   * that the only way on is the same request again (or a deliberate edit).
   */
  function setLocked(locked) {
    state.locked = locked;
    disableFields(locked || state.inFlight);
  }

  /** Disables or enables every control of the form, the submit button included. */
  function disableFields(disabled) {
    Array.prototype.forEach.call(el.form.elements, function (control) {
      control.disabled = disabled;
    });
  }

  /** An action button under the outcome message. */
  function addAction(label, primary, onClick) {
    var button = document.createElement('button');
    button.type = 'button';
    button.className = primary ? 'button button-primary' : 'button';
    button.textContent = label;
    button.addEventListener('click', onClick);
    el.outcomeActions.appendChild(button);
    el.outcomeActions.hidden = false;
    return button;
  }

  /**
   * The outcome of the attempt is unknown: lock the form and offer the same request again,
   * or, deliberately, editing the details (a new registration, with a new key).
   */
  function showUnknownOutcome(headingText, message, retryAfterSeconds) {
    var parts = [heading(headingText), message];
    var wait = retryAfterSeconds ? Math.min(retryAfterSeconds, MAX_RETRY_WAIT_SECONDS) : 0;
    if (wait > 0) {
      parts.push('The service asked us to wait ' + wait + (wait === 1 ? ' second' : ' seconds') + ' before trying again.');
    }
    setOutcome('warning', parts, true);
    setLocked(true);
    var button = addAction('Try again', true, resend);
    addAction('Edit the details', false, function () {
      // The first request may still have charged the card: say so before a new key is used.
      if (typeof window.confirm === 'function' && !window.confirm(
        'If the first payment went through, changing the details starts a new registration ' +
        'and the card may be charged again. Trying again as it is never charges twice. Edit anyway?')) {
        return;
      }
      state.attempt = null;
      setLocked(false);
      setOutcome('', []);
    });
    if (wait > 0) {
      var remaining = wait;
      button.disabled = true;
      button.textContent = 'Try again (' + remaining + ')';
      state.retryTimer = setInterval(function () {
        remaining -= 1;
        if (remaining <= 0) {
          clearRetryTimer();
          button.disabled = false;
          button.textContent = 'Try again';
        } else {
          button.textContent = 'Try again (' + remaining + ')';
        }
      }, 1000);
    }
  }

  function setBusy(busy) {
    state.inFlight = busy;
    // Nothing can change while a payment runs: what is sent is what the attendee sees.
    disableFields(busy || state.locked);
    if (busy) {
      el.form.setAttribute('aria-busy', 'true');
      el.submit.textContent = 'Processing…';
      // Where the attendee is looking (the button), not only in the outcome region above.
      el.submitStatus.textContent = 'Charging your card and booking your place. This usually takes a few seconds; please keep this page open.';
      el.submitStatus.hidden = false;
    } else {
      el.form.removeAttribute('aria-busy');
      el.submitStatus.textContent = '';
      el.submitStatus.hidden = true;
      updateSubmitLabel();
    }
    Array.prototype.forEach.call(el.outcomeActions.querySelectorAll('button'), function (b) {
      if (busy) b.disabled = true;
      else if (!state.retryTimer) b.disabled = false;
    });
  }

  /** `text` as one sentence: a capital first and a full stop last. */
  function sentence(text) {
    var out = String(text).trim();
    if (out === '') return out;
    out = out.charAt(0).toUpperCase() + out.slice(1);
    return /[.!?]$/.test(out) ? out : out + '.';
  }

  /**
   * A declined card: the reason at the top and next to the card number, with what was cleared
   * (the number and the security code, which are not kept), and the focus on the card number,
   * where the attendee goes next.
   */
  function showDecline(reason) {
    clearCardSecrets();
    setOutcome('error', [heading('Your card was declined'), reason + ' Nothing was charged.'], false);
    showFieldError('card.number', reason + ' The card number and security code were cleared: enter them again, or use another card.');
    var input = $('card-number');
    input.focus();
    if (input.scrollIntoView) input.scrollIntoView({ block: 'center' });
  }

  function clearCardSecrets() {
    $('card-number').value = '';
    $('card-cvc').value = '';
    el.cardBrand.textContent = '';
  }

  /* ---------------- Submission ---------------- */

  /** The idempotency key for this body: reused for a retry of the same submission. */
  function keyFor(body) {
    if (state.attempt && state.attempt.body === body) return state.attempt.key;
    state.attempt = { key: newIdempotencyKey(), body: body, final: false };
    return state.attempt.key;
  }

  function submitRegistration() {
    if (state.inFlight) return; // double clicks while a request is in flight
    if (state.locked) return resend();
    var request = buildRequest(collectValues());
    var errors = validateRequest(request, new Date());
    clearAllFieldErrors();
    if (Object.keys(errors).length > 0) {
      showValidationErrors(errors, false);
      return;
    }
    var body = JSON.stringify(request);
    send(body, keyFor(body), request.card.number);
  }

  /** The attempt whose outcome is unknown, again: the same body with the same key. */
  function resend() {
    if (state.inFlight || !state.attempt || !state.attempt.body) return;
    var cardNumber = '';
    try {
      cardNumber = JSON.parse(state.attempt.body).card.number;
    } catch (e) {
      cardNumber = '';
    }
    send(state.attempt.body, state.attempt.key, cardNumber);
  }

  function send(body, key, cardNumber) {
    setBusy(true);
    setOutcome('info', ['Processing your registration and payment. Please wait…']);

    var controller = typeof AbortController !== 'undefined' ? new AbortController() : null;
    var timeout = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;

    fetch('/api/registrations', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Accept': 'application/json',
        'Idempotency-Key': key
      },
      body: body,
      cache: 'no-store',
      credentials: 'same-origin',
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        return { status: response.status, data: data, retryAfter: response.headers.get('Retry-After') };
      });
    }).then(function (result) {
      if (timeout) clearTimeout(timeout);
      setBusy(false);
      handleResponse(result, cardNumber);
    }, function () {
      // Network error or timeout: the outcome is unknown, so keep the key.
      if (timeout) clearTimeout(timeout);
      setBusy(false);
      showUnknownOutcome('Please try again', UNAVAILABLE_MESSAGE, null);
    }).catch(function () {
      setBusy(false);
      setOutcome('error', ['Something went wrong while showing the result. Please reload the page.'], true);
    });
  }

  /** A final answer: the fields may change again, and a change makes a new submission. */
  function markFinal() {
    if (state.attempt) state.attempt.final = true;
    setLocked(false);
  }

  function handleResponse(result, cardNumber) {
    var data = result.data && typeof result.data === 'object' ? result.data : {};
    switch (classifyStatus(result.status)) {
      case 'success':
        markFinal();
        clearCardSecrets();
        if (state.attempt) state.attempt.body = null;
        showConfirmation(data);
        break;
      case 'invalid':
        markFinal();
        showValidationErrors(data.fields && typeof data.fields === 'object' ? data.fields : {}, true, cardNumber);
        break;
      case 'declined':
        markFinal();
        showDecline(sentence(sanitizeServerText(data.reason, cardNumber, 'The card issuer did not give a reason.')));
        break;
      case 'conflict':
        // Usually the same submission is still being processed; retrying with the same key is safe.
        showUnknownOutcome(
          'This registration is already being processed',
          'Please wait a few seconds, then try again to see the result. You will not be charged twice.',
          parseRetryAfter(result.retryAfter));
        break;
      case 'too-large':
        markFinal();
        setOutcome('error', [
          heading('The registration is too large'),
          'Some of the details are too long to be processed. Please shorten them and try again. Nothing was charged.'
        ], true);
        break;
      case 'unavailable':
        showUnknownOutcome('Please try again', UNAVAILABLE_MESSAGE, parseRetryAfter(result.retryAfter));
        break;
      case 'throttled':
        // A final answer (nothing was charged); what to do and when, calmly.
        markFinal();
        setOutcome('warning', [
          heading('Please wait before trying again'),
          sentence(sanitizeServerText(data.error, cardNumber,
            'Many people are registering at the moment, so this registration was not taken. Nothing was charged.')),
          whenToRetry(parseRetryAfter(result.retryAfter), undefined, locale)
        ], true);
        break;
      default:
        markFinal();
        setOutcome('error', [
          heading('The registration could not be completed'),
          'Something unexpected went wrong (error ' + Number(result.status) + '). Please try again in a moment.'
        ], true);
    }
  }

  function showConfirmation(data) {
    var ticketInfo = data.ticket && typeof data.ticket === 'object' ? data.ticket : {};
    var localTicket = findTicket(typeof ticketInfo.id === 'string' ? ticketInfo.id : selectedTicketId());
    var ticketName = typeof ticketInfo.name === 'string' && ticketInfo.name
      ? ticketInfo.name : (localTicket ? localTicket.name : '');
    var email = typeof data.email === 'string' && data.email ? data.email : $('email').value.trim();

    $('confirmation-id').textContent = sanitizeServerText(data.registrationId, '', '(not provided)');
    $('confirmation-ticket').textContent = sanitizeServerText(ticketName, '', '(not provided)');
    $('confirmation-amount').textContent = formatMoney(data.amount, locale) || '(not provided)';
    $('confirmation-email').textContent = sanitizeServerText(email, '', 'your email address');

    clearAllFieldErrors();
    el.form.hidden = true;
    el.confirmation.hidden = false;
    setOutcome('success', ['Registration complete: payment accepted and your place is booked.']);
    el.confirmationTitle.focus();
  }

  function startOver() {
    setLocked(false);
    el.form.reset();
    clearCardSecrets();
    clearAllFieldErrors();
    state.attempt = null;
    setOutcome('', []);
    el.confirmation.hidden = true;
    el.form.hidden = false;
    updateSubmitLabel();
    $('first-name').focus();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
