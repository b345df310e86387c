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

// Frames of alice's connection the route below sent twice.
let repeatsSent = 0;
const isRepeatable = (data) => {
  try {
    const f = JSON.parse(String(data));
    return f.type === "message" || f.type === "delivery";
  } catch {
    return false;
  }
};

// open opens the page in a context of its own. With repeat, every message
// and delivery report the server sends reaches the page twice, as at-least-
// once delivery may (a route between the page and the real server).
async function open(browser, who, { repeat = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  if (repeat) {
    await context.routeWebSocket(() => true, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((m) => {
        ws.send(m);
        if (isRepeatable(m)) {
          ws.send(m);
          repeatsSent++;
        }
      });
    });
  }
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

const isID = (id) => /^[0-9a-f]{32}$/.test(id || "");

// broadcast sends message to everyone from u, checks the queued ack and
// returns the message id it names.
async function broadcast(u, message, opts = {}) {
  const before = await send(u, message, opts);
  const ack = await waitEntry(u.page, u.who, "ack", () => true, `queued ack of ${JSON.stringify(message)}`, before.ack);
  assert(ack.queued === "true" && isID(ack.id) && ack.delivered === undefined,
    `${u.who}: ack ${JSON.stringify(ack)}, want queued with a message id`);
  return ack.id;
}

// report waits for the delivery report of broadcast id on u's page.
async function report(u, id) {
  return waitEntry(u.page, u.who, "delivery", (e) => e.id === id, `delivery report of ${id}`);
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
  // alice's connection gets every message and delivery report twice: her
  // page must show each once.
  const alice = await open(browser, "alice", { repeat: true });

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

  // A broadcast: queued with an id, seen by both others with that id, and
  // reported to its sender. Its text is markup, which must arrive as text.
  const hello = `hello <img src=x onerror="document.title='pwned'"> & <b>everyone</b>`;
  let id = await broadcast(alice, hello);
  for (const u of [bob, carol]) {
    const m = await waitEntry(u.page, u.who, "message", (e) => e.id === id, "alice's broadcast");
    assert(m.message === hello && m.from === "alice" && m.text === `alice: ${hello}`, `${u.who} shows ${JSON.stringify(m)}`);
    assert((await u.page.$$("#log img, #log b")).length === 0, `${u.who}: markup from the wire became elements`);
    assert((await u.page.title()) !== "pwned", `${u.who}: script ran`);
  }
  let rep = await report(alice, id);
  assert(rep.delivered === "2" && rep.stale === "0" && rep.failed === "0" && rep.message === hello,
    `delivery report ${JSON.stringify(rep)}, want delivered 2, stale 0, failed 0 for the hello`);
  const sent = (await entries(alice.page, "sent")).find((e) => e.id === id);
  assert(sent && sent.message === hello && sent.delivered === "2", `alice's sent entry ${JSON.stringify(sent)}, want the id and the counts`);
  assert(!(await entries(alice.page, "message")).some((e) => e.id === id), "alice got her own message");
  ok("alice's broadcast reached bob and carol as text; alice's ack says queued with its id, her delivery report delivered 2");

  // A direct message: only its recipient sees it; the ack has the counts.
  let before = await send(bob, "psst, alice only", { to: "alice" });
  let ack = await waitEntry(bob.page, "bob", "ack", () => true, "ack of the direct message", before.ack);
  assert(ack.delivered === "1" && ack.queued === undefined && isID(ack.id), `direct message ack ${JSON.stringify(ack)}, want delivered 1 and an id`);
  await waitEntry(alice.page, "alice", "message", (e) => e.id === ack.id && e.message === "psst, alice only" && e.from === "bob", "bob's direct message");
  await sleep(500);
  assert(!(await entries(carol.page, "message")).some((e) => e.message === "psst, alice only"), "carol saw bob's direct message");
  assert((await entries(bob.page, "sent")).some((e) => e.to === "alice" && e.id === ack.id), "bob's page does not show what it sent, with its id");
  ok("bob's direct message reached only alice; bob's ack says delivered 1");

  // Invalid input: the error frames are shown and the connection stays.
  before = await send(carol, "this is not json", { raw: true });
  let err = await waitEntry(carol.page, "carol", "error", () => true, "error frame of a raw non-JSON frame", before.error);
  assert(err.code === "invalid_json" && err.text.startsWith("invalid_json: "), `error ${JSON.stringify(err)}`);
  before = await send(carol, "   ");
  err = await waitEntry(carol.page, "carol", "error", () => true, "error frame of a blank message", before.error);
  assert(err.code === "empty_message", `error ${JSON.stringify(err)}`);
  id = await broadcast(carol, "hi", { to: " " }); // a blank recipient is "everyone"
  rep = await report(carol, id);
  assert(rep.delivered === "2" && rep.failed === "0", `delivery report ${JSON.stringify(rep)}`);
  assert((await state(carol.page)).startsWith("open"), "carol's connection closed after errors");
  ok("carol's invalid frames show error frames (invalid_json, empty_message); the connection stays usable");

  await shoot(carol);

  // carol's tab goes away: alice and bob keep chatting, delivered to fewer.
  await carol.context.close();
  id = await broadcast(alice, "carol left?");
  await waitEntry(bob.page, "bob", "message", (e) => e.id === id && e.message === "carol left?", "the broadcast after carol left");
  rep = await report(alice, id);
  assert(rep.delivered === "1" && rep.failed === "0", `delivery report ${JSON.stringify(rep)}, want delivered 1 (bob only)`);
  ok(`carol's context closed; alice's next broadcast reached bob only (delivered ${rep.delivered}, stale ${rep.stale})`);

  // bob disconnects: the page shows the close code; then reconnects.
  await bob.page.click("#disconnect");
  await bob.page.waitForSelector('#state[data-state="closed"]');
  const closed = await waitEntry(bob.page, "bob", "close", () => true, "close entry");
  assert(closed.code === "1000" && (await state(bob.page)).includes("1000"), `close ${JSON.stringify(closed)}`);
  id = await broadcast(alice, "anyone?");
  rep = await report(alice, id);
  assert(rep.delivered === "0", `delivery report ${JSON.stringify(rep)}, want delivered 0`);
  await connect(bob);
  before = await send(alice, "welcome back", { to: "bob" });
  await waitEntry(bob.page, "bob", "message", (e) => e.message === "welcome back", "direct message after reconnecting");
  ok("bob's Disconnect shows close code 1000; reconnected, he gets alice's direct message");

  // Every message and report reached alice's page twice; each shows once.
  const deadline = Date.now() + TIMEOUT;
  let dropped;
  while ((dropped = await alice.page.$eval("#log", (e) => e.dataset.duplicates || "0")) !== String(repeatsSent) && Date.now() < deadline) {
    await sleep(50);
  }
  assert(repeatsSent >= 4 && dropped === String(repeatsSent), `alice's page dropped ${dropped} repeated frames, the route sent ${repeatsSent}`);
  for (const type of ["message", "delivery"]) {
    const ids = (await entries(alice.page, type)).map((e) => e.id);
    assert(ids.every(isID) && new Set(ids).size === ids.length, `alice's ${type} entries ${JSON.stringify(ids)}: an id missing or shown twice`);
  }
  ok(`alice's page dropped the ${repeatsSent} repeated messages and delivery reports by id`);

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
