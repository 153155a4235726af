// The console in a real browser (Debian's chromium, driven by playwright-core) against a running
// fleet: a supervisor logs in and sees a call placed over REST appear on the wallboard and its
// state change without a reload; an agent sets her state from her desk and the wallboard shows
// it; the page speaks Japanese and German from the browser's language; no page logs an error.
// Screenshots go to SCREENSHOT_DIR. Run by integration-tests/tests/console.rs, which starts the
// fleet and passes BASE_URL and the users' credentials.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const { BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, AGENT_EMAIL, AGENT_PASSWORD, AGENT_NAME } = process.env;
const SCREENSHOTS = process.env.SCREENSHOT_DIR || "screenshots";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PATIENCE = 30000;
mkdirSync(SCREENSHOTS, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--headless"],
});
const errors = [];

async function open(locale) {
  const context = await browser.newContext({ locale, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${locale}: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`${locale}: ${error.message}`));
  await page.goto(`${BASE_URL}/console`);
  return page;
}

async function logIn(page, email, password) {
  await page.fill("#login-form [name=email]", email);
  await page.fill("#login-form [name=password]", password);
  // The keyboard alone logs in.
  await page.press("#login-form [name=password]", "Enter");
  await page.waitForSelector("#connection:not(.down)", { timeout: PATIENCE });
}

async function token(email, password) {
  const response = await fetch(`${BASE_URL}/api/communications/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  check(response.ok, `login over REST: ${response.status}`);
  return (await response.json()).access_token;
}

try {
  // The supervisor's wallboard.
  const board = await open("en-US");
  check((await board.textContent("h1")) === "Communications console", "English title");
  await logIn(board, ADMIN_EMAIL, ADMIN_PASSWORD);
  await board.waitForSelector("#wallboard:not([hidden]) #wallboard-title", { timeout: PATIENCE });
  await board.waitForFunction(() => document.querySelector("#connection")?.textContent.includes("Live"), null, { timeout: PATIENCE });
  // Marked, so a reload would show.
  await board.evaluate(() => { window.stillThisPage = true; });

  // A call placed over REST appears and moves on, on the same page.
  const admin = await token(ADMIN_EMAIL, ADMIN_PASSWORD);
  // A note for callers charged twice, which the desk shows when its caller says so.
  const written = await fetch(`${BASE_URL}/api/communications/knowledge/notes`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
    body: JSON.stringify({
      title: "Double charges",
      body: "Refund the second charge at once: no approval is needed.",
      language: "en",
      keywords: ["charged twice"],
    }),
  });
  check(written.status === 201, `writing a knowledge note: ${written.status}`);
  const note = (await written.json()).id;
  const placed = await fetch(`${BASE_URL}/api/communications/calls`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
    body: JSON.stringify({ to: "+14155550142" }),
  });
  check(placed.status === 201, `placing a call: ${placed.status}`);
  const call = (await placed.json()).id;
  await board.waitForSelector(`#calls tr[data-call="${call}"]`, { timeout: PATIENCE });
  const first = await board.getAttribute(`#calls tr[data-call="${call}"]`, "data-status");
  await board.waitForSelector(`#calls tr[data-call="${call}"][data-status="answered"]`, { timeout: PATIENCE });
  check(first !== "answered", `the call was first seen ${first}, then answered`);
  check(await board.evaluate(() => window.stillThisPage === true), "the wallboard reloaded");
  check((await board.textContent(`#calls tr[data-call="${call}"] .call-status`)) === "connected", "the call's state in words");
  // The simulated caller is upset at first: the mood, the count and an alert naming the number,
  // then pleased, and the alert goes.
  const mood = `#calls tr[data-call="${call}"] .mood`;
  await board.waitForSelector(`${mood}[data-mood="negative"]`, { timeout: PATIENCE });
  check((await board.textContent(mood)) === "upset", "the caller's mood in words");
  await board.waitForSelector(`.alerts li:has-text("The caller on +14155550142 is upset")`, { timeout: PATIENCE });
  check(Number(await board.textContent("#upset")) >= 1, "upset callers counted");
  await board.screenshot({ path: join(SCREENSHOTS, "wallboard.png"), fullPage: true });
  await board.waitForSelector(`${mood}[data-mood="positive"]`, { timeout: PATIENCE });
  check((await board.textContent(mood)) === "pleased", "the caller's mood turned");
  check(!(await board.locator(`.alerts li:has-text("+14155550142")`).count()), "the alert went with the mood");

  // The agent sets her state from her desk; the wallboard follows.
  const desk = await open("en-GB");
  await logIn(desk, AGENT_EMAIL, AGENT_PASSWORD);
  await desk.waitForSelector("#desk:not([hidden]) #my-state", { timeout: PATIENCE });
  check((await desk.locator("#views a[href='#wallboard']").isHidden()), "an agent has no wallboard");
  await desk.selectOption("#reason", "lunch");
  await desk.click("button[data-state=break]");
  await desk.waitForSelector("#my-state.state-break", { timeout: PATIENCE });
  await desk.screenshot({ path: join(SCREENSHOTS, "desk.png"), fullPage: true });
  const row = board.locator("#agents tr", { hasText: AGENT_NAME });
  await row.locator(".state-break").waitFor({ timeout: PATIENCE });
  check((await row.locator(".state").textContent()) === "break", "the wallboard shows her break");
  check(await board.evaluate(() => window.stillThisPage === true), "the wallboard reloaded");
  // Back to work, by keyboard.
  await desk.focus("button[data-state=available]");
  await desk.keyboard.press("Enter");
  await desk.waitForSelector("#my-state.state-available", { timeout: PATIENCE });
  await row.locator(".state-available").waitFor({ timeout: PATIENCE });

  // The billing caller waits in the queue the wallboard shows.
  const billing = board.locator("#wallboard tr", { hasText: "billing · EN" });
  await billing.waitFor({ timeout: PATIENCE });
  check((await billing.locator("td").first().textContent()) === "1", "one caller waits for billing");

  // The supervisor's team view: the waiting caller is pulled to the agent, who has the call.
  await board.click("#views a[href='#team']");
  await board.waitForSelector("#team:not([hidden]) #team-title", { timeout: PATIENCE });
  await board.waitForSelector(`#team tr:has-text("${AGENT_NAME}")`, { timeout: PATIENCE });
  const waiting = board.locator("#team li", { hasText: "+14155550199" });
  await waiting.locator("select.pull-to").waitFor({ timeout: PATIENCE });
  await board.screenshot({ path: join(SCREENSHOTS, "team.png"), fullPage: true });
  // The claims caller speaks German: sent to German returns, where the wallboard shows them.
  const claims = board.locator("#team li", { hasText: "+14155550188" });
  await claims.locator("input.reroute-skills").fill("returns");
  await claims.locator("select.reroute-language").selectOption("de");
  await claims.locator("input.reroute-reason").fill("wrong_language");
  await claims.locator("button.reroute").click();
  await board.locator("#team li", { hasText: "+14155550188" }).filter({ hasText: "(Deutsch)" }).waitFor({ timeout: PATIENCE });
  await waiting.locator("select.pull-to").selectOption({ label: AGENT_NAME });
  await waiting.locator("button.pull").click();
  await desk.waitForSelector("#my-state.state-busy", { timeout: PATIENCE });
  await desk.waitForSelector("#desk section:has-text('+14155550199')", { timeout: PATIENCE });
  // Agent assist follows her call: the caller's mood as it went, and the note for what the
  // caller said.
  await desk.waitForSelector("#assist-mood", { timeout: PATIENCE });
  const shown = desk.locator(`#assist-notes [data-note="${note}"]`);
  await shown.waitFor({ timeout: PATIENCE });
  check((await shown.locator("h4").textContent()) === "Double charges", "the note's title");
  check((await shown.locator(".heard").textContent()) === "Heard: “charged twice”", "the words that brought it up");
  await desk.screenshot({ path: join(SCREENSHOTS, "desk-on-a-call.png"), fullPage: true });
  // Her supervisor listens in from the team view, whispers to her, then leaves: the simulated
  // carrier carries no audio, which the view says.
  const onCall = board.locator("#team-calls li", { hasText: "+14155550199" });
  await onCall.locator("button.monitor-listen").click();
  await board.locator("#team-calls li[data-mode='listen']").waitFor({ timeout: PATIENCE });
  check((await onCall.locator(".monitoring").textContent()) === "You are listening", "listening, said");
  check((await onCall.locator("button.monitor-listen").getAttribute("aria-pressed")) === "true", "listen pressed");
  check((await onCall.locator(".hint").count()) === 1, "no audio, said");
  await onCall.locator("button.monitor-whisper").click();
  await board.locator("#team-calls li[data-mode='whisper']").waitFor({ timeout: PATIENCE });
  await board.screenshot({ path: join(SCREENSHOTS, "team-monitoring.png"), fullPage: true });
  await onCall.locator("button.monitor-stop").click();
  await board.locator("#team-calls li[data-mode='']", { hasText: "+14155550199" }).waitFor({ timeout: PATIENCE });
  // She hangs up and wraps up: the call's summary drafts her notes; she writes her own, with a
  // disposition, kept on the call.
  await desk.click("#hang-up");
  await desk.waitForSelector("#my-state.state-wrap_up", { timeout: PATIENCE });
  await desk.waitForSelector("#assist-summary", { timeout: PATIENCE });
  const drafted = await desk.inputValue("#wrap-up [name=notes]");
  check(drafted.startsWith("Caller: "), `the summary drafts the notes: ${drafted}`);
  await desk.selectOption("#wrap-up [name=disposition]", "resolved");
  await desk.fill("#wrap-up [name=notes]", "Billing question answered");
  await desk.click("#wrap-up button[type=submit]");
  await desk.waitForSelector("#desk-message.note:has-text('Saved.')", { timeout: PATIENCE });
  const ended = await fetch(`${BASE_URL}/api/communications/calls?status=ended&page_size=50`, {
    headers: { authorization: `Bearer ${admin}` },
  });
  const wrapped = (await ended.json()).data.find((c) => c.from === "+14155550199");
  check(wrapped?.disposition === "resolved" && wrapped?.notes === "Billing question answered",
    `the wrap-up is on the call: ${JSON.stringify(wrapped)}`);

  // Her wrap-up over, she is available again.
  await desk.click("button[data-state=available]");
  await desk.waitForSelector("#my-state.state-available", { timeout: PATIENCE });

  // The re-routed caller waits in German returns on the wallboard.
  await board.click("#views a[href='#wallboard']");
  await board.locator("#wallboard tr", { hasText: "returns · DE" }).waitFor({ timeout: PATIENCE });

  // Japanese and German, from the browser's language.
  for (const [locale, title, logIn_, wallboard, agents] of [
    ["ja-JP", "コミュニケーションコンソール", "ログイン", "ウォールボード", "エージェント"],
    ["de-DE", "Kommunikationskonsole", "Anmelden", "Wallboard", "Agenten"],
  ]) {
    const page = await open(locale);
    check((await page.textContent("h1")) === title, `${locale}: title`);
    check((await page.textContent("#login-form button")) === logIn_, `${locale}: log in`);
    check((await page.getAttribute("html", "lang")) === locale.slice(0, 2), `${locale}: lang attribute`);
    await logIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
    await page.waitForSelector("#wallboard-title", { timeout: PATIENCE });
    check((await page.textContent("#wallboard-title")) === wallboard, `${locale}: wallboard`);
    check((await page.textContent("#wb-agents")) === agents, `${locale}: agents`);
    // The pleased caller's mood, read when the page opened (no change of it has passed since).
    await page.waitForSelector(`${mood}[data-mood="positive"]`, { timeout: PATIENCE });
    await page.screenshot({ path: join(SCREENSHOTS, `wallboard-${locale.slice(0, 2)}.png`), fullPage: true });
  }

  check(errors.length === 0, `console errors:\n${errors.join("\n")}`);
  console.log("the console passed in chromium");
} finally {
  await browser.close();
}
