'use strict';
// The reference renderer of the Handlebars differential test (tests/integration/host/templates/rendering/test_handlebars_reference.py).
//
// Renders every case it reads on stdin with handlebars.js 4.7 and the whole handlebars-helpers 0.10 library,
// registered the way Mia's Messaging Service registers them, plus Mia's own helpers (dateNow, dateFormat,
// toLocale) as its documentation describes them. One process for the whole corpus: JSON in, JSON out.
//
// stdin:  {"now": "<ISO 8601>", "cases": [{"id", "template", "context": {"user", "data"}, "html", "locale"}]}
// stdout: [{"id", "ok": true, "output"} | {"id", "ok": false, "error"}]
//
// The clock is fixed at "now" so date helpers are comparable; run it with TZ=UTC (Mia runs in UTC).

// helpers that log (Handlebars' proto-access warnings, moment's deprecations) must not corrupt stdout
console.log = console.error;
console.info = console.error;
console.warn = console.error;

const RealDate = Date;
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const NOW = RealDate.parse(input.now);

// a Date whose "now" is the fixed instant; every other use is the real Date
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(NOW);
    else super(...args);
  }
  static now() {
    return NOW;
  }
}
globalThis.Date = FixedDate;

const Handlebars = require('handlebars');
const dayjs = require('dayjs');
dayjs.extend(require('dayjs/plugin/utc'));
dayjs.extend(require('dayjs/plugin/timezone'));

const hbs = Handlebars.create();
require('handlebars-helpers')({ handlebars: hbs });

let defaultLocale = 'en-US';

function isOptions(value) {
  return value !== null && typeof value === 'object' && typeof value.hash === 'object';
}

// Mia: "return the current date/time as ISO string"
hbs.registerHelper('dateNow', function () {
  return new Date().toISOString();
});

// Mia: format a date in a time zone with day.js (format= and tz=, default ISO 8601 and UTC)
hbs.registerHelper('dateFormat', function (date, format, tz, options) {
  const args = [date, format, tz, options];
  options = args.find(isOptions);
  const positional = args.slice(0, args.indexOf(options));
  const hash = options.hash;
  if (positional[0] === undefined || positional[0] === null) return '';
  const zone = hash.tz !== undefined ? hash.tz : positional[2] !== undefined ? positional[2] : 'UTC';
  const pattern = hash.format !== undefined ? hash.format : positional[1];
  return dayjs(positional[0]).tz(zone).format(pattern);
});

// Mia 1.7: "a string representing a value in a given locale" (locale=, default DEFAULT_LOCALE)
hbs.registerHelper('toLocale', function (value, locale, options) {
  if (isOptions(locale)) {
    options = locale;
    locale = undefined;
  }
  if (value === undefined || value === null) return '';
  const tag = options.hash.locale !== undefined ? options.hash.locale : locale !== undefined ? locale : defaultLocale;
  return value.toLocaleString(tag);
});

// A text field (title, SMS, push, voice) prints values as they are. Mia compiles every field with HTML
// escaping; handlebars' own noEscape option is no model of "the same minus escaping" (its generated code
// adds adjacent numbers: {{a}}{{b}} with 1 and 2 prints 3), so text fields keep the escaping code path
// with an escape function that only turns the value into a string.
const htmlEscape = hbs.Utils.escapeExpression;
function plainExpression(value) {
  if (typeof value !== 'string') {
    if (value && value.toHTML) return value.toHTML();
    if (value == null) return '';
    if (!value) return value + '';
    return '' + value;
  }
  return value;
}

const results = [];
for (const item of input.cases) {
  defaultLocale = item.locale || 'en-US';
  hbs.Utils.escapeExpression = item.html ? htmlEscape : plainExpression;
  try {
    const template = hbs.compile(item.template);
    results.push({ id: item.id, ok: true, output: template(item.context) });
  } catch (error) {
    results.push({ id: item.id, ok: false, error: String(error && error.message) });
  }
}
process.stdout.write(JSON.stringify(results));
