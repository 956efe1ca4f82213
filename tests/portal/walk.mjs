#!/usr/bin/env node
// The portal walk: a real (headless) Chromium walks each role's main task through the
// gemj-gateway web portal, as a person would, by clicking links and submitting forms.
//
//   node walk.mjs <baseUrl> <screenshotDir>      (env CHROMIUM: the browser, default /usr/bin/chromium)
//
// What a passing walk proves:
//   * a signed-out visitor cannot see the committee's page, and a researcher gets a 403 there;
//   * each role signs in through the demo broker and is shown who they are;
//   * a researcher finds datasets, is denied a CONTROLLED one with reasons in words, applies,
//     queries the Beacon and sees their own page; the portal switches to Japanese and back;
//   * the committee approves that application and sees an active approval it can manage;
//   * the same researcher, signing in again, is now permitted;
//   * a hospital coordinator opens a participant and withdraws their consent after confirming;
//   * every page visited has the portal's common parts (lang, language switch, main, h1), no
//     console error, no HTTP 5xx, and no serious or critical axe-core (WCAG 2 A/AA and best
//     practice) violation. Each page is screenshotted to <role>-<NN>-<slug>.png.
//
// Screenshot numbers are written into each step (not counted), so a failing step never shifts
// the names of later ones; the researcher's second visit continues at 14. A failed walk also
// leaves <walk>-FAILED.png. The JSON summary goes to stdout, the verdict to stderr; the exit
// status is 0 only when every step passed and nothing serious was found.
//
// The walk changes the server's state (an application, an approval, a withdrawn consent): run
// it against a freshly started demo gateway.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const ACTION_TIMEOUT_MS = 15_000;
const BUDGET_MS = 180_000; // no new step starts after this
const HARD_STOP_MS = BUDGET_MS + 20_000; // the process ends here whatever is under way
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'best-practice'];
const BLOCKING_IMPACTS = new Set(['serious', 'critical']);
const ROLES = ['researcher', 'committee', 'coordinator'];
const ACCESS_LEVELS = ['PUBLIC', 'REGISTERED', 'CONTROLLED'];
const CONTROLLED_DATASET = 'GEMJ-DEMO-CANCER-CTRL';
const COORDINATOR_PERSONA = 'coordinator:9999000001';

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve('axe-core/axe.min.js');
const AXE_SOURCE = fs.readFileSync(AXE_PATH, 'utf8');

const startedAt = Date.now();

/** Everything the walk found; printed as the JSON summary. */
const report = {
  baseUrl: null,
  pagesVisited: [],
  violations: [],
  consoleErrors: [],
  serverErrors: [],
  failures: [],
  applicationId: null,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

class WalkError extends Error {}

function assert(condition, message) {
  if (!condition) throw new WalkError(message);
}

function firstLine(message) {
  return String(message).split('\n').find((l) => l.trim() !== '') ?? String(message);
}

function slugify(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** A CSS attribute selector for an exact value (quoted as a CSS string). */
function attr(name, value) {
  return `[${name}=${JSON.stringify(String(value))}]`;
}

function overBudget() {
  return Date.now() - startedAt > BUDGET_MS;
}

function parseArgs(argv) {
  const [baseArg, shotArg] = argv;
  if (!baseArg || !shotArg) {
    console.error('usage: node walk.mjs <baseUrl> <screenshotDir>');
    process.exit(2);
  }
  let base;
  try {
    base = new URL(baseArg);
  } catch {
    console.error(`portal walk: "${baseArg}" is not a URL`);
    process.exit(2);
  }
  return { baseUrl: base.href.replace(/\/+$/, ''), shotDir: path.resolve(shotArg) };
}

// ---------------------------------------------------------------------------------------------
// One walk = one role in one fresh browser context.

/**
 * Opens a fresh context and page for a walk, recording the main document's HTTP status, 5xx
 * answers and console errors as they happen.
 */
async function openWalk(browser, cfg, { role, label }) {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  // lastDoc: the main document's last HTTP answer; goingTo: the URL being opened, for messages.
  const w = { role, label, cfg, context, page, lastDoc: null, goingTo: null, documentUrls: new Set() };

  const isMainDocument = (request) =>
    request.isNavigationRequest() && request.frame() === page.mainFrame();

  page.on('request', (request) => {
    if (isMainDocument(request)) w.documentUrls.add(request.url());
  });
  page.on('response', (response) => {
    if (!isMainDocument(response.request())) return;
    const status = response.status();
    w.lastDoc = {
      url: response.url(),
      status,
      csp: response
        .allHeaders()
        .then((h) => 'content-security-policy' in h)
        .catch(() => false),
    };
    if (status >= 500) report.serverErrors.push({ walk: label, url: response.url(), status });
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium echoes a main document's 4xx/5xx status as "Failed to load resource"; that
    // status is asserted by the steps themselves (an expected 403 is not a page defect).
    const source = message.location()?.url ?? '';
    if (w.documentUrls.has(source) && /^Failed to load resource/.test(message.text())) return;
    report.consoleErrors.push({ walk: label, url: page.url(), text: message.text(), source });
  });
  page.on('pageerror', (error) => {
    report.consoleErrors.push({ walk: label, url: page.url(), text: `uncaught: ${firstLine(error.message)}` });
  });
  return w;
}

/**
 * Runs one named step; any error becomes a failure naming the walk, the step and the URL
 * (with a screenshot of where it happened).
 */
async function step(w, name, fn) {
  if (overBudget()) {
    throw new WalkError(`[${w.label}] step "${name}" not started: the ${BUDGET_MS / 1000} s budget is spent`);
  }
  try {
    return await fn();
  } catch (error) {
    const url = w.page.url() + (w.goingTo ? ` (while opening ${w.goingTo})` : '');
    await w.page
      .screenshot({ path: path.join(w.cfg.shotDir, `${slugify(w.label)}-FAILED.png`), fullPage: true, timeout: 5_000 })
      .catch(() => {});
    throw new WalkError(`[${w.label}] step "${name}" failed at ${url}: ${firstLine(error.message)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Moving around

async function visit(w, pathname) {
  w.goingTo = new URL(pathname, w.cfg.baseUrl + '/').href;
  await w.page.goto(w.goingTo, { waitUntil: 'load' });
}

/** Clicks something that loads a new document, and waits until that document has loaded. */
async function clickAndLoad(w, locator) {
  await Promise.all([w.page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

/** Clicks, then waits (through any redirects) for a URL the predicate accepts. */
async function clickUntil(w, locator, predicate) {
  await Promise.all([w.page.waitForURL(predicate, { waitUntil: 'load' }), locator.click()]);
}

/** Sets a form field by name, whether it is an input or a select. */
async function setField(scope, name, value) {
  const field = scope.locator(attr('name', name)).first();
  assert((await field.count()) === 1, `no field named "${name}"`);
  if ((await field.evaluate((e) => e.tagName)) === 'SELECT') await field.selectOption(String(value));
  else await field.fill(String(value));
}

/** Fails, naming the fields, if the browser's own validation would refuse to submit the form. */
async function assertFormValid(form) {
  const invalid = await form.evaluate((f) =>
    [...f.elements].filter((e) => e.willValidate && !e.checkValidity()).map((e) => e.name || e.id),
  );
  assert(invalid.length === 0, `the form would not submit: invalid field(s) ${invalid.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Checking a page

async function count(page, selector) {
  return page.locator(selector).count();
}

async function expectPresent(page, selector, what = selector) {
  assert((await count(page, selector)) > 0, `expected ${what} (\`${selector}\`) on the page, found none`);
}

/** An attribute of the first element matching, failing at once (not after a timeout) if none. */
async function attrOf(page, selector, name) {
  await expectPresent(page, selector);
  return page.locator(selector).first().getAttribute(name);
}

async function textOf(page, selector) {
  await expectPresent(page, selector);
  return ((await page.locator(selector).first().textContent()) ?? '').trim();
}

/** The parts every portal page has: a language, the language switch, a main landmark, an h1. */
async function checkPortalChrome(page) {
  const lang = await page.locator('html').getAttribute('lang');
  assert(lang === 'en' || lang === 'ja', `<html lang> is ${JSON.stringify(lang)}, expected "en" or "ja"`);
  await expectPresent(page, 'nav#lang a[hreflang="ja"]', 'the Japanese language link');
  await expectPresent(page, 'nav#lang a[hreflang="en"]', 'the English language link');
  await expectPresent(page, 'main, [role="main"]', 'a main landmark');
  await expectPresent(page, 'h1', 'a heading');
  return lang;
}

/**
 * Puts axe-core in the page. The brief way is a script tag; but if the portal sends a
 * Content-Security-Policy, an injected inline script is refused (and its CSP error would be
 * blamed on the page), so then the same file goes through the DevTools evaluator, which a
 * page's CSP does not govern.
 */
async function injectAxe(w) {
  const { page } = w;
  if (await page.evaluate(() => typeof window.axe === 'object')) return;
  const csp =
    (await w.lastDoc?.csp) ||
    (await count(page, 'meta[http-equiv="Content-Security-Policy" i]')) > 0;
  if (csp) await page.evaluate(AXE_SOURCE);
  else await page.addScriptTag({ path: AXE_PATH });
}

/** The serious and critical axe-core violations of the page, with their target selectors. */
async function runAxe(w) {
  await injectAxe(w);
  const violations = await w.page.evaluate(async (tags) => {
    const results = await window.axe.run(document, { runOnly: tags });
    return results.violations.map((v) => ({
      rule: v.id,
      help: v.help,
      nodes: v.nodes.map((n) => ({ impact: n.impact, target: n.target.flat(Infinity).join(' ') })),
    }));
  }, AXE_TAGS);
  const blocking = [];
  for (const v of violations) {
    const nodes = v.nodes.filter((n) => BLOCKING_IMPACTS.has(n.impact));
    if (nodes.length === 0) continue;
    const impact = nodes.some((n) => n.impact === 'critical') ? 'critical' : 'serious';
    blocking.push({ rule: v.rule, impact, help: v.help, targets: nodes.map((n) => n.target) });
  }
  return blocking;
}

/**
 * A page reached: screenshot it, run axe-core on it, then check its status (2xx unless told
 * otherwise; never 5xx) and, on portal pages, the common parts.
 *   expectStatus: a number, or null to accept any status below 500.
 */
async function checkpoint(w, nn, slug, { expectStatus = 'success' } = {}) {
  const { page } = w;
  w.goingTo = null;
  const url = page.url();
  const status = w.lastDoc?.status ?? null;
  const screenshot = path.join(w.cfg.shotDir, `${w.role}-${String(nn).padStart(2, '0')}-${slug}.png`);
  await page.screenshot({ path: screenshot, fullPage: true });
  const entry = { walk: w.label, page: `${w.role}-${String(nn).padStart(2, '0')}-${slug}`, url, status, lang: null, screenshot };
  report.pagesVisited.push(entry);

  for (const v of await runAxe(w)) report.violations.push({ walk: w.label, url, ...v });

  assert(status !== null, 'no HTTP response was seen for the main document');
  assert(status < 500, `the main document answered HTTP ${status}`);
  if (expectStatus === 'success') assert(status >= 200 && status < 300, `the main document answered HTTP ${status}, expected 2xx`);
  else if (expectStatus !== null) assert(status === expectStatus, `the main document answered HTTP ${status}, expected ${expectStatus}`);

  if (new URL(url).pathname.startsWith('/portal')) entry.lang = await checkPortalChrome(page);
  return entry;
}

// ---------------------------------------------------------------------------------------------
// Signing in (every signed-in walk starts this way: pages NN, NN+1, NN+2)

async function signIn(w, persona, expectedRole, nn) {
  const { page } = w;
  await step(w, 'open the home page signed out', async () => {
    await visit(w, '/portal');
    await checkpoint(w, nn, 'home-signed-out');
    await expectPresent(page, 'a#sign-in', 'the sign-in link');
  });
  await step(w, 'follow sign-in to the demo broker', async () => {
    await clickUntil(w, page.locator('a#sign-in'), (u) => u.pathname.endsWith('/demo-broker/authorize'));
    await checkpoint(w, nn + 1, 'demo-broker');
    await expectPresent(page, `button[name="persona"]${attr('value', persona)}`, `the "${persona}" persona button`);
  });
  await step(w, `sign in as ${persona}`, async () => {
    const button = page.locator(`button[name="persona"]${attr('value', persona)}`);
    await clickUntil(w, button, (u) => /^\/portal\/?$/.test(u.pathname));
    await checkpoint(w, nn + 2, 'home-signed-in');
    const role = await attrOf(page, '#whoami', 'data-role');
    assert(ROLES.includes(role), `#whoami data-role is ${JSON.stringify(role)}, expected one of ${ROLES.join(', ')}`);
    assert(role === expectedRole, `#whoami data-role is "${role}", expected "${expectedRole}"`);
    const who = await textOf(page, '#whoami');
    assert(who.toLowerCase().includes(expectedRole), `#whoami says "${who}", which does not name "${expectedRole}"`);
    const signOut = page.locator('form#sign-out');
    assert((await signOut.count()) === 1, 'no sign-out form (form#sign-out)');
    assert((await signOut.getAttribute('method'))?.toLowerCase() === 'post', 'the sign-out form is not a POST');
    const csrf = await attrOf(page, 'form#sign-out input[type="hidden"][name="_csrf"]', 'value');
    assert(csrf, 'the sign-out form has no _csrf value');
  });
}

// ---------------------------------------------------------------------------------------------
// The walks

/** Signed out, the committee's page is not shown: a sign-in redirect or a 401/403 page. */
async function walkSignedOut(w) {
  const { page } = w;
  await step(w, 'open the committee page signed out', async () => {
    await visit(w, '/portal/committee');
    const { url, status } = await checkpoint(w, 1, 'committee-signed-out', { expectStatus: null });
    assert((await count(page, 'table#applications')) === 0, 'a signed-out visitor sees the applications table');
    const redirected = new URL(url).pathname !== '/portal/committee';
    const refused = (status === 401 || status === 403) && (await count(page, 'h1')) > 0;
    assert(redirected || refused, `expected a redirect to sign in or a 401/403 page with an h1, got HTTP ${status} at ${url}`);
  });
}

/** The researcher: datasets, a denial with reasons, an application, the Beacon, their page. */
async function walkResearcherApplies(w, state) {
  const { page } = w;
  await signIn(w, 'researcher', 'researcher', 1);

  await step(w, 'list the datasets', async () => {
    await visit(w, '/portal/datasets');
    await checkpoint(w, 4, 'datasets');
    await checkDatasetsPage(page);
  });

  await step(w, `open ${CONTROLLED_DATASET}`, async () => {
    const link = page.locator(`table#datasets tr${attr('data-dataset', CONTROLLED_DATASET)} a.dataset`);
    await clickUntil(w, link, (u) => decodeURIComponent(u.pathname) === `/portal/datasets/${CONTROLLED_DATASET}`);
    await checkpoint(w, 5, 'dataset-controlled');
  });

  await step(w, 'check access (expect a denial with reasons)', async () => {
    await clickAndLoad(w, page.locator('button#check-access'));
    await checkpoint(w, 6, 'access-denied');
    const decision = await attrOf(page, '#access-result', 'data-decision');
    assert(decision === 'deny', `#access-result data-decision is ${JSON.stringify(decision)}, expected "deny"`);
    const reasons = (await page.locator('ul#denial-reasons li').allTextContents()).map((t) => t.trim());
    assert(reasons.length > 0, 'no denial reason listed (ul#denial-reasons li)');
    assert(reasons.every((r) => /\p{L}{2,}/u.test(r)), `a denial reason is not in words: ${JSON.stringify(reasons)}`);
  });

  await step(w, 'apply for access', async () => {
    const form = page.locator('form#apply-form');
    assert((await form.count()) === 1, 'no application form (form#apply-form)');
    const purpose = await form
      .locator('select[name="purpose"] option')
      .evaluateAll((options) => options.find((o) => o.value && !o.disabled)?.value ?? null);
    assert(purpose, 'the purpose list has no choosable option');
    await setField(form, 'purpose', purpose);
    await setField(form, 'project', 'Portal walk project');
    // The diseases field comes prefilled with the dataset's own disease; the facts its
    // data-use modifiers ask for (ethics approval, ...) are affirmed, as an applicant would.
    for (const fact of await form.locator('input[name="facts"]').all()) await fact.check();
    // Not in the page contract: the form may also ask for an institution, prefilled when the
    // passport names one; a person would type one if it were empty.
    const institution = form.locator('input[name="institution"]');
    if ((await institution.count()) > 0 && (await institution.inputValue()) === '') {
      await institution.fill('Portal walk institution');
    }
    await assertFormValid(form);
    await clickAndLoad(w, form.locator('button#apply-submit'));
    await checkpoint(w, 7, 'application-submitted');
    const id = await textOf(page, '#application-id');
    assert(id !== '', '#application-id is empty');
    state.applicationId = id;
    report.applicationId = id;
  });

  await step(w, 'open the Beacon', async () => {
    await visit(w, '/portal/beacon');
    await checkpoint(w, 8, 'beacon');
    await expectPresent(page, 'form#beacon-form', 'the Beacon form');
  });

  await step(w, 'query the Beacon (chr20:1-5000000)', async () => {
    const form = page.locator('form#beacon-form');
    await setField(form, 'referenceName', '20');
    await setField(form, 'start', '1');
    await setField(form, 'end', '5000000');
    // htmx swaps the results in (and pushes the URL); without JavaScript the form loads a
    // new page. Either way the answer is the section with data-exists.
    await form.locator('button#beacon-submit').click();
    await page.locator('#beacon-results[data-exists]').waitFor({ state: 'attached' });
    await checkpoint(w, 9, 'beacon-results');
    const exists = await attrOf(page, '#beacon-results', 'data-exists');
    assert(exists === 'true' || exists === 'false', `#beacon-results data-exists is ${JSON.stringify(exists)}, expected "true" or "false"`);
  });

  await step(w, 'open my page', async () => {
    await visit(w, '/portal/me');
    await checkpoint(w, 10, 'my-page');
    await expectPresent(page, '#my-approvals', 'my approvals');
    assert((await count(page, '#my-history tbody tr')) > 0, 'my history (#my-history tbody tr) has no row');
    await expectPresent(page, 'svg#accesses-plot', 'the accesses plot');
  });

  await step(w, 'switch to Japanese', async () => {
    await clickAndLoad(w, page.locator('nav#lang a[hreflang="ja"]'));
    const { lang } = await checkpoint(w, 11, 'my-page-ja');
    assert(lang === 'ja', `after choosing 日本語, <html lang> is "${lang}"`);
  });

  await step(w, 'switch back to English', async () => {
    await clickAndLoad(w, page.locator('nav#lang a[hreflang="en"]'));
    const { lang } = await checkpoint(w, 12, 'my-page-en');
    assert(lang === 'en', `after choosing English, <html lang> is "${lang}"`);
  });

  await step(w, 'open the committee page as a researcher (expect 403)', async () => {
    await visit(w, '/portal/committee');
    await checkpoint(w, 13, 'committee-forbidden', { expectStatus: 403 });
    assert((await count(page, 'table#applications')) === 0, 'a researcher sees the applications table');
  });
}

/** The datasets table, its access levels and DUO terms, and the counts plot. */
async function checkDatasetsPage(page) {
  const rows = await page.locator('table#datasets tr[data-dataset]').evaluateAll((trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-dataset'),
      href: tr.querySelector('a.dataset')?.href ?? null,
      level: tr.querySelector('td.level')?.textContent.trim() ?? null,
    })),
  );
  assert(rows.length > 0, 'the datasets table (table#datasets tr[data-dataset]) has no row');
  for (const row of rows) {
    assert(row.href, `dataset ${row.id} has no a.dataset link`);
    const target = decodeURIComponent(new URL(row.href).pathname);
    assert(target === `/portal/datasets/${row.id}`, `dataset ${row.id} links to ${target}`);
    assert(ACCESS_LEVELS.includes(row.level), `dataset ${row.id} has access level ${JSON.stringify(row.level)}`);
  }
  const controlled = rows.find((r) => r.id === CONTROLLED_DATASET);
  assert(controlled, `${CONTROLLED_DATASET} is not listed`);
  assert(controlled.level === 'CONTROLLED', `${CONTROLLED_DATASET} is ${controlled.level}, expected CONTROLLED`);

  const terms = await page.locator('.duo').evaluateAll((els) => els.map((e) => e.getAttribute('data-term')));
  assert(terms.length > 0, 'no DUO term (.duo) shown');
  const bad = terms.filter((t) => !/^DUO:\d{7}$/.test(t ?? ''));
  assert(bad.length === 0, `DUO terms with a malformed data-term: ${JSON.stringify(bad)}`);

  await expectPresent(page, 'svg#counts-plot', 'the counts plot');
  const plot = await page.locator('svg#counts-plot').first().evaluate((svg) => ({
    role: svg.getAttribute('role'),
    title: svg.querySelector(':scope > title')?.textContent.trim() ?? '',
  }));
  assert(plot.role === 'img', `svg#counts-plot has role ${JSON.stringify(plot.role)}, expected "img"`);
  assert(plot.title !== '', 'svg#counts-plot has no <title>');
}

/** The committee approves the researcher's application; the approval is active and manageable. */
async function walkCommitteeApproves(w, state) {
  const { page } = w;
  const appId = state.applicationId;
  const appRow = page.locator(`table#applications tr${attr('data-application', appId)}`);
  let approvalsBefore = new Set();

  await signIn(w, 'committee', 'committee', 1);

  await step(w, `find application ${appId}`, async () => {
    await visit(w, '/portal/committee');
    await checkpoint(w, 4, 'committee');
    assert((await appRow.count()) === 1, `application ${appId} is not listed in table#applications`);
    await expectPresent(page, `table#applications tr${attr('data-application', appId)} input[name="reason"]`, 'a reason field');
    await expectPresent(page, `table#applications tr${attr('data-application', appId)} button.approve`, 'an approve button');
    approvalsBefore = new Set(await approvalRows(page, appId).then((rows) => rows.map((r) => r.id)));
  });

  let approval = null;
  await step(w, `approve application ${appId}`, async () => {
    await appRow.locator('input[name="reason"]').fill('Approved in the portal walk');
    await clickAndLoad(w, appRow.locator('button.approve'));
    await checkpoint(w, 5, 'approved');
    const flash = await textOf(page, '#flash');
    assert(/\bapproved\b/i.test(flash), `#flash says "${flash}", without the word "approved"`);
    const stillPending = (await appRow.count()) > 0 && (await appRow.locator('button.approve').count()) > 0;
    assert(!stillPending, `application ${appId} is still pending (its approve button is still there)`);
    approval = await findNewApproval(page, appId, approvalsBefore);
    assert(approval.status === 'active', `the new approval ${approval.id} has status "${approval.status}", expected "active"`);
    state.approved = true;
  });

  await step(w, 'find the status controls of the new approval (left unchanged)', async () => {
    const row = page.locator(`table#approvals tr${attr('data-approval', approval.id)}`);
    const options = await row.locator('select[name="status"] option').evaluateAll((os) => os.map((o) => o.value));
    for (const wanted of ['suspended', 'active', 'revoked']) {
      assert(options.includes(wanted), `the status list of approval ${approval.id} lacks "${wanted}" (has ${JSON.stringify(options)})`);
    }
    assert((await row.locator('input[name="reason"]').count()) > 0, `approval ${approval.id} has no reason field`);
    assert((await row.locator('button.change-status').count()) > 0, `approval ${approval.id} has no button.change-status`);
  });
}

/** The rows of table#approvals: id, status, and whether the row names the application. */
async function approvalRows(page, appId) {
  return page.locator('table#approvals tr[data-approval]').evaluateAll(
    (trs, app) =>
      trs.map((tr) => ({
        id: tr.getAttribute('data-approval'),
        status: (tr.querySelector('td.status')?.textContent ?? '').trim().toLowerCase(),
        namesApplication: tr.getAttribute('data-application') === app || tr.textContent.includes(app),
      })),
    appId,
  );
}

/**
 * The approval the click created: a row not there before, preferring one that names the
 * application (the contract does not say how an approval row points to its application).
 */
async function findNewApproval(page, appId, before) {
  const rows = await approvalRows(page, appId);
  const fresh = rows.filter((r) => !before.has(r.id));
  const pick = fresh.find((r) => r.namesApplication) ?? (fresh.length === 1 ? fresh[0] : null);
  assert(fresh.length > 0, 'no new row in table#approvals (tr[data-approval]) after approving');
  assert(pick, `${fresh.length} new approval rows and none names application ${appId}`);
  return pick;
}

/** The same researcher, after the approval, is permitted. */
async function walkResearcherPermitted(w) {
  const { page } = w;
  await signIn(w, 'researcher', 'researcher', 14);

  await step(w, `open ${CONTROLLED_DATASET} again`, async () => {
    await visit(w, `/portal/datasets/${CONTROLLED_DATASET}`);
    await checkpoint(w, 17, 'dataset-controlled-again');
  });

  await step(w, 'check access (expect a permit)', async () => {
    await clickAndLoad(w, page.locator('button#check-access'));
    await checkpoint(w, 18, 'access-permitted');
    const decision = await attrOf(page, '#access-result', 'data-decision');
    assert(decision === 'permit', `#access-result data-decision is ${JSON.stringify(decision)}, expected "permit"`);
  });
}

/** A hospital coordinator withdraws a participant's consent, after a confirmation page. */
async function walkCoordinatorWithdraws(w) {
  const { page } = w;
  await signIn(w, COORDINATOR_PERSONA, 'coordinator', 1);

  let participant = null;
  await step(w, 'open the institution page', async () => {
    await visit(w, '/portal/institution');
    await checkpoint(w, 4, 'institution');
    await expectPresent(page, 'section#inbox', 'the inbox');
    const rows = await page.locator('table#participants tr[data-participant]').evaluateAll((trs) =>
      trs.map((tr) => ({ id: tr.getAttribute('data-participant'), link: Boolean(tr.querySelector('a.participant')) })),
    );
    assert(rows.length > 0, 'no participant listed (table#participants tr[data-participant])');
    const linkless = rows.filter((r) => !r.link).map((r) => r.id);
    assert(linkless.length === 0, `participants without an a.participant link: ${linkless.join(', ')}`);
    participant = rows[0].id;
  });

  await step(w, `open participant ${participant}`, async () => {
    const link = page.locator(`table#participants tr${attr('data-participant', participant)} a.participant`).first();
    await clickUntil(w, link, (u) => u.pathname.startsWith('/portal/institution/participants/'));
    await checkpoint(w, 5, 'participant');
    const opened = decodeURIComponent(new URL(page.url()).pathname);
    assert(opened === `/portal/institution/participants/${participant}`, `the link led to ${opened}`);
    const state = await attrOf(page, '#consent-state', 'data-state');
    assert(state, '#consent-state has no data-state');
    await expectPresent(page, 'table#consent-history', 'the consent history');
    await expectPresent(page, 'section#access-report', 'the access report');
    await expectPresent(page, 'form#withdraw-form button#withdraw', 'the withdraw button');
  });

  await step(w, 'ask to withdraw consent', async () => {
    await clickAndLoad(w, page.locator('form#withdraw-form button#withdraw'));
    await checkpoint(w, 6, 'confirm-withdraw');
    await expectPresent(page, 'form#confirm-withdraw-form button#confirm-withdraw', 'the confirm button');
    await expectPresent(page, 'a#cancel-withdraw', 'the cancel link');
  });

  await step(w, 'confirm the withdrawal', async () => {
    await clickAndLoad(w, page.locator('form#confirm-withdraw-form button#confirm-withdraw'));
    await checkpoint(w, 7, 'withdrawn');
    await expectPresent(page, '#flash', 'a confirmation message');
    const state = await attrOf(page, '#consent-state', 'data-state');
    assert(state === 'withdrawn', `#consent-state data-state is ${JSON.stringify(state)}, expected "withdrawn"`);
  });
}

// ---------------------------------------------------------------------------------------------
// The order: the committee approves what the researcher applied for, then the researcher is
// permitted; the coordinator's withdrawal comes last so it cannot change those decisions.

const PLAN = [
  { role: 'anonymous', label: 'anonymous', run: walkSignedOut },
  { role: 'researcher', label: 'researcher', run: walkResearcherApplies },
  { role: 'committee', label: 'committee', run: walkCommitteeApproves, needs: 'applicationId' },
  { role: 'researcher', label: 'researcher (again)', run: walkResearcherPermitted, needs: 'approved' },
  { role: 'coordinator', label: 'coordinator', run: walkCoordinatorWithdraws },
];

async function runWalk(browser, cfg, walk, state) {
  if (walk.needs && !state[walk.needs]) {
    report.failures.push(`[${walk.label}] skipped: an earlier walk failed, so there is no ${walk.needs}`);
    return;
  }
  const w = await openWalk(browser, cfg, walk);
  try {
    await walk.run(w, state);
  } catch (error) {
    report.failures.push(error instanceof WalkError ? error.message : `[${walk.label}] ${firstLine(error.message)}`);
  } finally {
    await w.context.close().catch(() => {});
  }
}

function summary() {
  const ok =
    report.failures.length === 0 &&
    report.violations.length === 0 &&
    report.consoleErrors.length === 0 &&
    report.serverErrors.length === 0;
  return { ok, durationMs: Date.now() - startedAt, ...report };
}

/** Prints the JSON summary to stdout and the verdict to stderr; returns the exit code. */
function finish() {
  const s = summary();
  console.log(JSON.stringify(s, null, 2));
  if (s.ok) {
    console.error(`portal walk passed: ${s.pagesVisited.length} pages, no serious or critical violation.`);
    return 0;
  }
  console.error('portal walk FAILED:');
  for (const f of s.failures) console.error(`  step: ${f}`);
  for (const v of s.violations) console.error(`  axe ${v.impact} ${v.rule} at ${v.url} (${v.walk}): ${v.targets.join(', ')}`);
  for (const c of s.consoleErrors) {
    const from = c.source && c.source !== c.url ? ` [from ${c.source}]` : '';
    console.error(`  console error at ${c.url} (${c.walk}): ${firstLine(c.text)}${from}`);
  }
  for (const e of s.serverErrors) console.error(`  HTTP ${e.status} at ${e.url} (${e.walk})`);
  return 1;
}

async function main() {
  const cfg = parseArgs(process.argv.slice(2));
  report.baseUrl = cfg.baseUrl;
  fs.mkdirSync(cfg.shotDir, { recursive: true });

  const hardStop = setTimeout(() => {
    report.failures.push(`the walk did not end within ${HARD_STOP_MS / 1000} s and was stopped`);
    process.exit(finish() || 1);
  }, HARD_STOP_MS);
  hardStop.unref();

  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  let browser;
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'], timeout: 30_000 });
  } catch (error) {
    console.error(`portal walk: could not launch Chromium at ${executablePath} (set CHROMIUM): ${firstLine(error.message)}`);
    process.exit(1);
  }
  const state = { applicationId: null, approved: false };
  try {
    for (const walk of PLAN) await runWalk(browser, cfg, walk, state);
  } finally {
    await browser.close().catch(() => {});
  }
  process.exitCode = finish();
}

main().catch((error) => {
  console.error(`portal walk: ${error.stack ?? error}`);
  process.exit(1);
});
