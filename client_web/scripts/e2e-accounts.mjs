// End-to-end check of the account flows against a LIVE Dermline server (run: `npm run e2e`,
// after `npm run build`; needs ../.venv with the server installed). It starts its own server
// (temporary data dir, random port, serving dist/), then in headless Chromium at 360x640:
//   1. opens the one-time setup link the server prints, creates the first administrator
//      (password, recovery key confirmed by typing a group back, keys made in the browser),
//      enrols TOTP from the key shown on the page (codes computed here, RFC 6238), saves the
//      recovery codes and lands signed in with the keys unlocked;
//   2. signs out, signs in again (password, then a fresh TOTP code) and unlocks, with
//      "Remember this device": a reload unlocks again without the password;
//   3. as that administrator, creates a GP practice (with a records public key) and a
//      dermatology service and invites a GP and a dermatologist (JSON API from the page);
//   4. the GP (phone, 360x640) accepts the invite, enrols TOTP and sends a new case with the
//      full minimum dataset (NHS number checked as typed) and two photos (prepared on the
//      device: metadata stripped, quality warning shown; encrypted in the browser); the
//      dermatologist (desktop, 1280x800, a second browser context) accepts the invite, sees
//      the case in the triage queue, opens it (decrypted and verified in the browser) and
//      claims it; the queue and the GP's open case page update live (Socket.IO, no reload);
//   5. the dermatologist asks the GP a question (case -> "Waiting for GP"), the GP answers
//      (-> "In review"); messages appear on the other side live and exactly once, with
//      read ("Read by ...") and typing ("... is typing") indicators;
//      Then the GP's phone goes offline, a message waits, and is resent automatically when the
//      network returns: it arrives once on both sides;
//   6. the dermatologist closes the case with a structured outcome (two-week-wait referral);
//      the GP sees the decrypted outcome at once, without reload.
// Every page is checked with axe-core (no serious/critical violation) and for console errors
// (a CSP violation is one); screenshots go to test-results/e2e/. Exit code 1 on any failure.
import { spawn } from "node:child_process";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const outDir = join(root, "test-results", "e2e");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error("bad base32");
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP, SHA-1, 6 digits, 30 s steps. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const o = mac[19] & 15;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1_000_000).padStart(6, "0");
}
const nowStep = () => Math.floor(Date.now() / 1000 / 30);

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const dataDir = mkdtempSync(join(tmpdir(), "dermline-e2e-"));
const port = await freePort();
const server = spawn(join(repo, ".venv", "bin", "dermline"), ["serve", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port)], {
  cwd: repo,
  env: { ...process.env, DERMLINE_STATIC_DIR: join(root, "dist"), DERMLINE_ARGON2_MEMORY_KIB: "8192" },
  stdio: ["ignore", "pipe", "pipe"],
});
let serverOut = "";
server.stdout.on("data", (d) => (serverOut += d));
server.stderr.on("data", (d) => (serverOut += d));
const setupLink = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`server did not print a setup link:\n${serverOut}`)), 20000);
  const check = () => {
    const m = /(http:\/\/\S+\/#\/invite\/\S+)/.exec(serverOut);
    if (m && serverOut.includes("listening")) {
      clearTimeout(t);
      resolve(m[1]);
    } else setTimeout(check, 100);
  };
  check();
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
let page = await context.newPage();
const extraPages = [];
const problems = [];
function watch(pg, who) {
  pg.on("console", (m) => {
    // Expected: 401/403 while signing in, and the browser's own network errors during the
    // deliberate network drop. Anything else (a CSP violation, an exception) is a failure.
    if (m.type() === "error" && !/status of 40[13]|ERR_INTERNET_DISCONNECTED/.test(m.text())) {
      problems.push(`${who}: console error: ${m.text()}`);
    }
  });
  pg.on("pageerror", (e) => problems.push(`${who}: page error: ${e.message}`));
}
watch(page, "admin");


async function acceptInvite(pg, link, who, name, pass, label) {
  await pg.goto(link);
  await pg.getByLabel("Email address").waitFor();
  await check(pg, `${label}-invite-details`);
  await pg.getByLabel("Email address").fill(who);
  await pg.getByLabel("Full name").fill(name);
  await pg.getByLabel("Password", { exact: true }).fill(pass);
  await pg.getByLabel("Enter the password again").fill(pass);
  await pg.getByRole("button", { name: "Continue" }).click();
  const keyText = await pg.getByTestId("recovery-key").innerText();
  await check(pg, `${label}-invite-recovery-key`);
  const groups = keyText.replace(/Group \d+:/g, "").trim().split(/\s+/);
  if (groups.length !== 14) throw new Error(`recovery key has ${groups.length} groups`);
  const groupLabel = await pg.locator("label[for=group]").innerText();
  const k = Number(/group (\d+)/.exec(groupLabel)[1]);
  await pg.getByLabel(groupLabel).fill(groups[k - 1]);
  const t0 = Date.now();
  await pg.getByRole("button", { name: "Create account" }).click();
  await pg.getByTestId("totp-key").waitFor({ timeout: 30000 });
  console.log(`     ${label}: account created (keys made in the browser) and signed in, ${Date.now() - t0} ms`);
  await check(pg, `${label}-invite-totp`);
  const secret = (await pg.getByTestId("totp-key").innerText()).replace(/\s/g, "");
  const step = nowStep();
  await pg.getByLabel("Security code").fill(totp(secret, step));
  await pg.getByRole("button", { name: "Confirm" }).click();
  await pg.getByRole("button", { name: "I have saved my recovery codes" }).waitFor();
  if ((await pg.locator(".dl-codes li").count()) < 1) throw new Error("no recovery codes shown");
  await check(pg, `${label}-invite-recovery-codes`);
  await pg.getByRole("button", { name: "I have saved my recovery codes" }).click();
  await pg.getByTestId("signed-in").waitFor();
  await check(pg, `${label}-cases`);
  return { secret, step };
}

/** JSON API call from inside the page (same origin, session cookie, CSRF header). */
async function apiFromPage(pg, method, path, body) {
  return pg.evaluate(
    async ([m, p, b]) => {
      const csrf = /(?:^|;\s*)dermline_csrf=([^;]+)/.exec(document.cookie)?.[1];
      const res = await fetch(`/api/v1${p}`, {
        method: m,
        headers: { "Content-Type": "application/json", ...(csrf ? { "X-CSRF-Token": decodeURIComponent(csrf) } : {}) },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${m} ${p} -> ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    [method, path, body],
  );
}

function recordsPublicKeyB64() {
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
  return raw.toString("base64url");
}

let shot = 0;
async function check(pg, name) {
  await pg.evaluate(axeSource);
  const r = await pg.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
  );
  for (const v of r.violations) {
    if (v.impact === "serious" || v.impact === "critical") problems.push(`${name}: axe ${v.impact} ${v.id}`);
  }
  shot += 1;
  await pg.screenshot({ path: join(outDir, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  console.log(`ok   ${name}`);
}

const email = "admin@example.nhs.uk";
const password = "a long and unguessable passphrase";
try {
  // 1. Accept the setup invite.
  const admin = await acceptInvite(page, setupLink, email, "Ada Admin", password, "admin");
  const secret = admin.secret;
  const enrolStep = admin.step;

  // 2. Sign out; then a COLD load in a fresh browser context (empty cache) of the sign-in
  //    page, sign in again with a code from the next time step (a code never works twice).
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await context.close();
  const cold = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  page = await cold.newPage();
  watch(page, "admin");
  const tCold = Date.now();
  await page.goto(`${new URL(setupLink).origin}/#/login`);
  await page.getByLabel("Email address").waitFor();
  const coldMs = Date.now() - tCold;
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType("navigation")[0];
    return { domInteractive: Math.round(n.domInteractive), loadEventEnd: Math.round(n.loadEventEnd), transfer: n.transferSize };
  });
  const jsBytes = await page.evaluate(() =>
    performance.getEntriesByType("resource").filter((r) => r.name.endsWith(".js")).reduce((a, r) => a + r.transferSize, 0),
  );
  console.log(`     cold load of the sign-in page: interactive form after ${coldMs} ms (domInteractive ${nav.domInteractive} ms, JS transferred ${jsBytes} B)`);
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Remember this device").check();
  await check(page, "login");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  await check(page, "login-code");
  await page.getByLabel("Security code").fill(totp(secret, Math.max(nowStep(), enrolStep) + 1));
  const t1 = Date.now();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await page.getByText(/You have no cases yet|Cases you take part in/).waitFor({ timeout: 30000 });
  console.log(`     signed in, keys unlocked and case list shown ${Date.now() - t1} ms after submitting the code`);
  await check(page, "signed-in-again");
  // "Remember this device": a reload (keys gone from memory) unlocks from the IndexedDB device
  // key without the password; nothing is in localStorage.
  await page.reload();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  if ((await page.evaluate(() => localStorage.length)) !== 0) throw new Error("something was written to localStorage");
  await check(page, "remembered-after-reload");
  console.log("ok   remembered device: unlocked after reload without the password");

  // 3. Organisations and invites.
  const practice = await apiFromPage(page, "POST", "/orgs", { kind: "practice", name: "Riverside Surgery", records_public_key: recordsPublicKeyB64() });
  const service = await apiFromPage(page, "POST", "/orgs", { kind: "service", name: "City Dermatology" });
  const gpInvite = await apiFromPage(page, "POST", `/orgs/${practice.org_id}/invites`, { role: "gp" });
  const dermInvite = await apiFromPage(page, "POST", `/orgs/${service.org_id}/invites`, { role: "dermatologist" });
  console.log("ok   practice, service and invites created");

  // 4. GP on a phone, dermatologist on a desktop, each in their own browser context.
  const gpContext = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const gp = await gpContext.newPage();
  watch(gp, "gp");
  extraPages.push(gp);
  const dermContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: "block" });
  const derm = await dermContext.newPage();
  watch(derm, "derm");
  extraPages.push(derm);
  const origin = new URL(setupLink).origin;
  await acceptInvite(gp, `${origin}/#/invite/${gpInvite.token}`, "gp@riverside.nhs.uk", "Dr Grace Practitioner", "gp passphrase for the test", "gp");
  await acceptInvite(derm, `${origin}/#/invite/${dermInvite.token}`, "derm@city.nhs.uk", "Dr Dan Dermatologist", "derm passphrase for the test", "derm");

  await gp.getByRole("button", { name: "Send a new case" }).click();
  await gp.getByLabel("NHS number").waitFor();
  await gp.getByLabel("NHS number").fill("943 476 5918"); // wrong check digit: refused as typed
  await gp.getByText("Enter a valid NHS number").first().waitFor();
  await check(gp, "gp-new-case-nhs-number-error");
  await gp.getByLabel("NHS number").fill("943 476 5919");
  await gp.getByLabel("Full name").fill("Test Patient");
  await gp.getByLabel("Date of birth").fill("15 3 1961");
  await gp.getByLabel("Female").check();
  await gp.getByLabel("Body site").fill("left forearm");
  await gp.getByLabel("How long has the patient had it?").fill("6 weeks");
  await gp.getByLabel("Size").check();
  await gp.getByLabel("Colour").check();
  await gp.getByLabel("Bleeding").check();
  await gp.locator("#previous-cancer-2").check();
  await gp.getByLabel("Skin type (Fitzpatrick)").selectOption("II");
  await gp.getByLabel("Your question for the dermatologist").fill("Is this a basal cell carcinoma? Please advise on management.");
  await gp.locator("#consent").check();
  // Photos: a close-up carrying EXIF GPS (stripped on the device), and a blurred dermoscopic
  // photo that earns a quality warning (a warning, not a block).
  const samples = join(repo, "tests", "vectors", "photos");
  await gp.locator("#photo-close-up").setInputFiles(join(samples, "metadata.jpg"));
  await gp.getByTestId("photo-close-up-prepared").waitFor({ timeout: 30000 });
  await gp.locator("#photo-dermoscopic").setInputFiles(join(samples, "blurred.jpg"));
  await gp.getByTestId("photo-dermoscopic-warning").waitFor({ timeout: 30000 });
  await check(gp, "gp-new-case-filled");
  await gp.getByRole("button", { name: "Send case" }).click();
  await gp.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  await check(gp, "gp-case-sent");

  // No reload: the triage queue updates live over Socket.IO.
  await derm.getByText("Triage queue").waitFor({ timeout: 30000 });
  await check(derm, "derm-queue");
  await derm.getByRole("link", { name: /^Case / }).first().click();
  await derm.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  const seen = await derm.getByTestId("clinical-history").innerText();
  if (!seen.includes("943 476 5919") || !seen.includes("basal cell carcinoma")) throw new Error("dermatologist did not see the decrypted history");
  await derm.getByTestId("case-photo").first().waitFor({ timeout: 30000 });
  const photos = await derm.getByTestId("case-photo").evaluateAll((imgs) => imgs.map((i) => [i.alt, i.naturalWidth, i.naturalHeight]));
  if (photos.length !== 2 || photos.some(([, w]) => w === 0)) throw new Error(`photos not decrypted: ${JSON.stringify(photos)}`);
  console.log(`ok   photos decrypted by the dermatologist: ${photos.map(([a, w, h]) => `${a} ${w}x${h}`).join("; ")}`);
  await check(derm, "derm-case-decrypted");
  await derm.getByRole("button", { name: "Claim this case" }).click();
  await derm.getByText("In review").waitFor();
  await check(derm, "derm-case-claimed");
  // No reload: the GP's open case page updates live.
  await gp.getByText("In review").waitFor({ timeout: 30000 });
  await check(gp, "gp-case-in-review");
  console.log("ok   case sent by the GP, decrypted and claimed by the dermatologist");

  // 5. A conversation: each side's message appears on the other side without reload.
  await derm.getByLabel("Your message").fill("Has it bled on contact, and is it growing?");
  await derm.getByLabel("This needs an answer from the GP (the case waits for the GP)").check();
  await derm.getByRole("button", { name: "Send message" }).click();
  await gp.getByText("Waiting for GP").waitFor({ timeout: 30000 });
  await gp.getByText("Has it bled on contact, and is it growing?").waitFor({ timeout: 30000 });
  await check(gp, "gp-sees-question");
  // Read indicator: the GP has read the question (stored receipt, relayed live).
  await derm.getByText("Read by Dr Grace Practitioner").waitFor({ timeout: 30000 });
  // Typing indicator: ephemeral, relayed to the other side while the GP types.
  await gp.getByLabel("Your message").pressSequentially("Yes", { delay: 50 });
  await derm.getByText("Dr Grace Practitioner is typing…").waitFor({ timeout: 10000 });
  await check(derm, "derm-sees-typing-and-read");
  await gp.getByLabel("Your message").fill("Yes, it bled twice last week and has grown about 2 mm.");
  await gp.getByRole("button", { name: "Send answer" }).click();
  await derm.getByText("In review").waitFor({ timeout: 30000 });
  await derm.getByText("Yes, it bled twice last week and has grown about 2 mm.").waitFor({ timeout: 30000 });
  await check(derm, "derm-sees-answer");
  const dermCount = await derm.getByTestId("message-text").count();
  const gpCount = await gp.getByTestId("message-text").count();
  if (dermCount !== 2 || gpCount !== 2) throw new Error(`messages shown: derm ${dermCount}, gp ${gpCount} (expected 2 each, no duplicates)`);
  console.log("ok   conversation delivered live both ways, each message shown once");

  // 5b. Network drop on the GP's phone: the message waits (offline banner), then is resent
  //     automatically when the network returns; it arrives once on both sides.
  await gpContext.setOffline(true);
  await gp.getByText("You are offline").waitFor();
  await gp.getByLabel("Your message").fill("Sent while offline: the patient also reports itching.");
  await gp.getByRole("button", { name: "Send message" }).click();
  await gp.getByTestId("pending-message").waitFor();
  await check(gp, "gp-offline-waiting");
  await derm.waitForTimeout(1500);
  if ((await derm.getByText("Sent while offline").count()) !== 0) throw new Error("message arrived while the sender was offline");
  await gpContext.setOffline(false);
  await derm.getByText("Sent while offline: the patient also reports itching.").waitFor({ timeout: 30000 });
  await gp.getByTestId("pending-message").waitFor({ state: "detached", timeout: 30000 });
  await gp.waitForTimeout(1000);
  const dermAfter = await derm.getByTestId("message-text").count();
  const gpAfter = await gp.getByTestId("message-text").count();
  if (dermAfter !== 3 || gpAfter !== 3) throw new Error(`after the drop: derm ${dermAfter}, gp ${gpAfter} messages (expected 3 each)`);
  await check(gp, "gp-back-online");
  console.log("ok   network drop: message resent automatically, none lost or doubled");

  // 6. The dermatologist closes with a structured outcome; the GP sees it without reload.
  await derm.getByRole("button", { name: "Close case" }).click();
  await derm.getByText("Select the outcome").first().waitFor();
  await check(derm, "derm-outcome-errors");
  await derm.getByLabel("Referral", { exact: true }).check();
  await derm.getByLabel("Two-week wait (suspected cancer)").check();
  await derm.getByLabel("Dermatology clinic").check();
  await derm.getByLabel("Advice for the GP").fill("Features suggest a basal cell carcinoma; refer to the skin cancer clinic.");
  await check(derm, "derm-outcome-filled");
  await derm.getByRole("button", { name: "Close case" }).click();
  await derm.getByTestId("outcome").waitFor({ timeout: 30000 });
  await gp.getByTestId("outcome").waitFor({ timeout: 30000 });
  const gpOutcome = await gp.getByTestId("outcome").innerText();
  if (!gpOutcome.includes("Two-week wait") || !gpOutcome.includes("skin cancer clinic")) throw new Error("GP did not see the decrypted outcome");
  await gp.getByText("Closed").first().waitFor();
  await check(gp, "gp-sees-outcome");
  console.log("ok   outcome closed by the dermatologist, decrypted by the GP live");

  // 7. Sign out forgets the remembered key: after a reload the admin is not signed in.
  await page.goto(`${new URL(setupLink).origin}/#/cases`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.goto(`${new URL(setupLink).origin}/#/`);
  await page.reload();
  await page.getByRole("heading", { name: "Secure skin advice and guidance" }).waitFor();
  const left = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const r = indexedDB.open("dermline-device", 1);
        r.onsuccess = () => {
          const q = r.result.transaction("keys").objectStore("keys").count();
          q.onsuccess = () => resolve(q.result);
        };
        r.onerror = () => resolve(-1);
      }),
  );
  if (left !== 0) throw new Error(`device store still holds ${left} key(s) after sign out`);
  console.log("ok   sign out removed the remembered key from the device");
} catch (e) {
  problems.push(`flow failed: ${e.message}`);
  for (const pg of context.pages ? [page, ...extraPages] : [page]) {
    await pg.screenshot({ path: join(outDir, `failure-${extraPages.indexOf(pg) + 1}.png`), fullPage: true }).catch(() => undefined);
  }
} finally {
  writeFileSync(join(outDir, "server.log"), serverOut);
  await browser.close();
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : "account and case flows pass end to end");
process.exit(problems.length ? 1 : 0);
