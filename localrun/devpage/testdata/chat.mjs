// Drives the dev chat page in headless Chromium (Debian's /usr/bin/chromium
// through npm's playwright-core), as browser_test.go asks:
//
//	node chat.mjs <page URL> <screenshot dir>
//
// Each check prints "ok - ..."; the first failure prints "not ok - ..." and
// exits 1; the end prints "PASS". CHROMIUM overrides the browser's path.
import { chromium } from "playwright-core";
import path from "node:path";

const [pageURL, shotDir] = process.argv.slice(2);
if (!pageURL || !shotDir) {
  console.error("usage: node chat.mjs <page URL> <screenshot dir>");
  process.exit(2);
}
const origin = new URL(pageURL);
const TIMEOUT = 30000;
const started = Date.now();

const ok = (what) => console.log(`ok - ${what} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(cond, what) {
  if (!cond) throw new Error(what);
}

// The page's log entries of a type: their data-* attributes and text.
async function entries(page, type) {
  return page.$$eval(`#log li[data-type="${type}"]`, (els) =>
    els.map((e) => ({ ...e.dataset, text: e.querySelector(".text").textContent })));
}

// waitEntry waits for an entry of type, beyond the first `after`, that
// satisfies pred, and returns it.
async function waitEntry(page, who, type, pred, what, after = 0) {
  const deadline = Date.now() + TIMEOUT;
  for (;;) {
    const found = (await entries(page, type)).slice(after).find(pred);
    if (found) return found;
    if (Date.now() > deadline) {
      const all = await page.$$eval("#log li", (els) => els.map((e) => e.dataset.type + " " + e.textContent));
      throw new Error(`${who}: no ${type} entry: ${what}\n  ${who}'s log:\n    ${all.join("\n    ")}`);
    }
    await sleep(50);
  }
}

async function state(page) {
  return page.$eval("#state", (e) => e.dataset.state + " " + e.textContent);
}

// Problems each page reported: console errors (CSP and Trusted Types
// violations are among them) and uncaught exceptions.
const problems = [];
let expectedFailedLoads = 0;

async function open(browser, who) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // The token endpoint's 400 for a bad name is logged by Chromium.
    if (/Failed to load resource: .* 400/.test(m.text()) && expectedFailedLoads > 0) {
      expectedFailedLoads--;
      return;
    }
    problems.push(`${who} console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`${who} exception: ${e.message}`));
  const res = await page.goto(pageURL);
  assert(res.status() === 200, `${who}: GET / answered ${res.status()}`);
  return { who, context, page, headers: res.headers() };
}

async function connect(u, name = u.who) {
  await u.page.fill("#name", name);
  await u.page.click("#connect");
  await u.page.waitForSelector('#state[data-state="open"]');
}

// send types a message (to a recipient when given) and submits it; raw
// sends the text as the frame itself. It returns how many acks and errors
// the page showed before, for waitEntry's `after`.
async function send(u, message, { to = "", raw = false } = {}) {
  const before = { ack: (await entries(u.page, "ack")).length, error: (await entries(u.page, "error")).length };
  await u.page.fill("#to", to);
  await u.page.fill("#message", message);
  await u.page.setChecked("#raw", raw);
  await u.page.click("#send");
  return before;
}

async function shoot(u) {
  const file = path.join(shotDir, `${u.who}.png`);
  await u.page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${file}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic"],
});
let exitCode = 0;
try {
  console.log(`chromium ${browser.version()}, page ${pageURL}`);
  const alice = await open(browser, "alice");

  // The page's headers.
  const csp = alice.headers["content-security-policy"] || "";
  for (const want of ["default-src 'none'", "script-src 'self'", `connect-src 'self' ws://${origin.host}`, "require-trusted-types-for 'script'"]) {
    assert(csp.includes(want), `CSP ${JSON.stringify(csp)} lacks ${want}`);
  }
  assert(alice.headers["x-content-type-options"] === "nosniff", "no X-Content-Type-Options: nosniff");
  assert((await state(alice.page)).startsWith("disconnected"), "the page does not start disconnected");
  ok("page served with its CSP and nosniff, starts disconnected");

  // A bad name: the token endpoint's JSON error is shown, nothing connects.
  expectedFailedLoads++;
  await alice.page.fill("#name", "bad name!");
  await alice.page.click("#connect");
  await alice.page.waitForSelector('#login-error[data-code="invalid_name"]');
  assert((await state(alice.page)).startsWith("disconnected"), "connected with a bad name");
  ok("a bad name shows the token endpoint's invalid_name error");

  const bob = await open(browser, "bob");
  const carol = await open(browser, "carol");
  for (const u of [alice, bob, carol]) await connect(u);
  ok("alice, bob and carol connected with tokens in the query string");

  // A broadcast: seen by both others, acked to its sender. Its text is
  // markup, which must arrive as text.
  const hello = `hello <img src=x onerror="document.title='pwned'"> & <b>everyone</b>`;
  let before = await send(alice, hello);
  for (const u of [bob, carol]) {
    const m = await waitEntry(u.page, u.who, "message", (e) => e.message === hello && e.from === "alice", "alice's broadcast");
    assert(m.text === `alice: ${hello}`, `${u.who} shows ${JSON.stringify(m.text)}`);
    assert((await u.page.$$("#log img, #log b")).length === 0, `${u.who}: markup from the wire became elements`);
    assert((await u.page.title()) !== "pwned", `${u.who}: script ran`);
  }
  let ack = await waitEntry(alice.page, "alice", "ack", () => true, "ack of the broadcast", before.ack);
  assert(ack.delivered === "2" && ack.stale === "0", `broadcast ack ${JSON.stringify(ack)}, want delivered 2 stale 0`);
  ok("alice's broadcast reached bob and carol as text; alice's ack says delivered 2");

  // A direct message: only its recipient sees it.
  before = await send(bob, "psst, alice only", { to: "alice" });
  await waitEntry(alice.page, "alice", "message", (e) => e.message === "psst, alice only" && e.from === "bob", "bob's direct message");
  ack = await waitEntry(bob.page, "bob", "ack", () => true, "ack of the direct message", before.ack);
  assert(ack.delivered === "1", `direct message ack ${JSON.stringify(ack)}, want delivered 1`);
  await sleep(500);
  assert(!(await entries(carol.page, "message")).some((e) => e.message === "psst, alice only"), "carol saw bob's direct message");
  assert((await entries(bob.page, "sent")).some((e) => e.to === "alice"), "bob's page does not show what it sent");
  ok("bob's direct message reached only alice; bob's ack says delivered 1");

  // Invalid input: the error frames are shown and the connection stays.
  before = await send(carol, "this is not json", { raw: true });
  let err = await waitEntry(carol.page, "carol", "error", () => true, "error frame of a raw non-JSON frame", before.error);
  assert(err.code === "invalid_json" && err.text.startsWith("invalid_json: "), `error ${JSON.stringify(err)}`);
  before = await send(carol, "   ");
  err = await waitEntry(carol.page, "carol", "error", () => true, "error frame of a blank message", before.error);
  assert(err.code === "empty_message", `error ${JSON.stringify(err)}`);
  before = await send(carol, "hi", { to: " ", raw: false }); // a blank recipient is "everyone"
  ack = await waitEntry(carol.page, "carol", "ack", () => true, "ack after the errors", before.ack);
  assert(ack.delivered === "2", `ack ${JSON.stringify(ack)}`);
  assert((await state(carol.page)).startsWith("open"), "carol's connection closed after errors");
  ok("carol's invalid frames show error frames (invalid_json, empty_message); the connection stays usable");

  await shoot(carol);

  // carol's tab goes away: alice and bob keep chatting, delivered to fewer.
  await carol.context.close();
  before = await send(alice, "carol left?");
  await waitEntry(bob.page, "bob", "message", (e) => e.message === "carol left?", "the broadcast after carol left");
  ack = await waitEntry(alice.page, "alice", "ack", () => true, "ack after carol left", before.ack);
  assert(ack.delivered === "1", `ack ${JSON.stringify(ack)}, want delivered 1 (bob only)`);
  ok(`carol's context closed; alice's next broadcast reached bob only (delivered ${ack.delivered}, stale ${ack.stale})`);

  // bob disconnects: the page shows the close code; then reconnects.
  await bob.page.click("#disconnect");
  await bob.page.waitForSelector('#state[data-state="closed"]');
  const closed = await waitEntry(bob.page, "bob", "close", () => true, "close entry");
  assert(closed.code === "1000" && (await state(bob.page)).includes("1000"), `close ${JSON.stringify(closed)}`);
  before = await send(alice, "anyone?");
  ack = await waitEntry(alice.page, "alice", "ack", () => true, "ack with nobody else", before.ack);
  assert(ack.delivered === "0", `ack ${JSON.stringify(ack)}, want delivered 0`);
  await connect(bob);
  before = await send(alice, "welcome back", { to: "bob" });
  await waitEntry(bob.page, "bob", "message", (e) => e.message === "welcome back", "direct message after reconnecting");
  ok("bob's Disconnect shows close code 1000; reconnected, he gets alice's direct message");

  await shoot(alice);
  await shoot(bob);
  assert(problems.length === 0, `the pages reported problems:\n  ${problems.join("\n  ")}`);
  ok("no console errors, CSP or Trusted Types violations, or exceptions");
  console.log("PASS");
} catch (e) {
  console.log(`not ok - ${e.message}`);
  if (problems.length) console.log(`pages reported:\n  ${problems.join("\n  ")}`);
  exitCode = 1;
} finally {
  await browser.close();
}
process.exit(exitCode);
