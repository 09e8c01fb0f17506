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
//      the GP sees the decrypted outcome at once, without reload; the referring GP then
//      changes the urgency (reason required, a check step; the dermatologist has no control)
//      and both sides see "Urgent (downgraded from two-week wait ...)" and the reason live.
// Added for issues 5 and 6: the admin's second sign-in is done with the KEYBOARD ONLY (Tab,
// Space, Enter); re-lock after idle (test hook: 4 s); the GP picks photos from the gallery input
// (one blurred: warning before sending, "send anyway" needs a stated reason, each photo tagged);
// thumbnails first in the thread; full-screen review (wheel zoom, drag pan, keyboard zoom/pan,
// pinch on the phone, two photos side by side); a retake request with coded reasons and a new
// photo in the same case; an "images rejected" outcome, the GP resubmitting the same case with a
// new photo, a second claim and the final outcome; Cache Storage holding shell entries only; a
// thread with 20 photos timed; a photo altered on the wire not breaking the thread; sign-out
// leaving no keys in memory (same page) or IndexedDB. Every page state is also checked for
// touch targets of at least 24x24 CSS px, and every invalid submission for the NHS.UK error
// summary (scripts/checks.mjs).
// The patient photo link, end to end (step 9).
// Every page is checked with axe-core (no serious/critical violation) and for console errors
// (a CSP violation is one); screenshots go to test-results/e2e/. Exit code 1 on any failure.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessibilityProblems, launchChromium, nowStep, startServer, totp } from "./e2e-lib.mjs";
import { errorSummaryProblems } from "./checks.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const outDir = join(root, "test-results", "e2e");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const { server, dataDir, setupLink, output } = await startServer({ repo, staticDir: join(root, "dist"), prefix: "dermline-e2e-" });
const browser = await launchChromium();
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
  problems.push(...(await accessibilityProblems(pg, name)));
  shot += 1;
  // The full-screen photo viewer is fixed to the viewport: screenshot what the user sees.
  const viewerOpen = (await pg.getByTestId("photo-viewer").count()) > 0;
  await pg.screenshot({ path: join(outDir, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: !viewerOpen });
  console.log(`ok   ${name}`);
}

/**
 * How many elements with this test id the page shows once it shows `n` (within 30 s), else
 * the count at the timeout. Each page updates on its own (one from the real-time event, the
 * other after its own request and a reload of the thread), so a count read at once races the
 * slower page. A duplicate fails: either the count never reaches `n`, or it passes `n` in the
 * second after reaching it (a late redelivery or resend).
 */
async function countOnceSettled(pg, testId, n) {
  try {
    await pg.waitForFunction(([id, k]) => document.querySelectorAll(`[data-testid="${id}"]`).length === k, [testId, n], { timeout: 30000 });
  } catch {
    // fall through: report what the page shows
  }
  // Once the count is reached, give a late duplicate (a redelivery, a resend) time to show.
  await pg.waitForTimeout(1000);
  return pg.getByTestId(testId).count();
}

/** After an invalid submission: the NHS.UK error summary pattern (scripts/checks.mjs). */
async function checkErrors(pg, name) {
  await pg.locator(".nhsuk-error-summary").waitFor();
  await pg.waitForFunction(() => document.activeElement?.classList.contains("nhsuk-error-summary"));
  for (const t of await pg.evaluate(errorSummaryProblems)) problems.push(`${name}: ${t}`);
  await check(pg, name);
}

/** Keyboard only: press Tab until the element with this id has focus (at most 80 presses). */
async function tabTo(pg, id) {
  for (let i = 0; i < 80; i++) {
    await pg.keyboard.press("Tab");
    if (await pg.evaluate((x) => document.activeElement?.id === x, id)) return;
  }
  throw new Error(`keyboard: could not reach #${id} with Tab`);
}
/** Keyboard only: Tab to the button or link with exactly this text. */
async function tabToText(pg, text) {
  for (let i = 0; i < 80; i++) {
    await pg.keyboard.press("Tab");
    if (await pg.evaluate((t) => document.activeElement?.textContent?.trim() === t, text)) return;
  }
  throw new Error(`keyboard: could not reach "${text}" with Tab`);
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
  // KEYBOARD ONLY from here to the case list (everything works by keyboard): Tab to
  // each field, type, Space on the checkbox, Enter to submit. An empty submission first shows
  // the error summary, which takes focus.
  await tabToText(page, "Continue");
  await page.keyboard.press("Enter");
  await checkErrors(page, "login-errors-keyboard");
  await tabTo(page, "email");
  await page.keyboard.type(email);
  await tabTo(page, "password");
  await page.keyboard.type(password);
  await tabTo(page, "remember");
  await page.keyboard.press("Space");
  if (!(await page.locator("#remember").isChecked())) throw new Error("keyboard: Space did not tick Remember this device");
  await check(page, "login");
  await page.keyboard.press("Enter");
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  await check(page, "login-code");
  await tabTo(page, "code");
  await page.keyboard.type(totp(secret, Math.max(nowStep(), enrolStep) + 1));
  const t1 = Date.now();
  await page.keyboard.press("Enter");
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
  console.log("ok   keyboard only: sign-in, remember device and security code with Tab, Space and Enter");

  // Re-lock after idle: the test hook shortens the idle time to 4 s (it can only
  // shorten it, src/app/session.ts). With no activity the keys are dropped and the unlock page
  // asks for the password; the page shows no clinical content while locked. 4 s, not less: we
  // must see "signed-in" before the lock, twice, on a machine that may be busy.
  await page.evaluate(() => sessionStorage.setItem("dermline.test.idleLockMs", "4000"));
  // Timed from before the reload: the idle timer starts when the keys are unlocked, after it,
  // so the lock comes at least 4 s later however long the unlock and our polling take (timed
  // from when we SAW "signed-in", a slow unlock made a correct lock look early).
  const tIdle = Date.now();
  await page.reload();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await page.getByRole("heading", { name: "Unlock Dermline" }).waitFor({ timeout: 30000 });
  const idleMs = Date.now() - tIdle;
  if (idleMs < 4000) throw new Error(`locked too early (${idleMs} ms after the reload)`);
  if ((await page.getByTestId("signed-in").count()) !== 0) throw new Error("still signed in after the idle lock");
  await check(page, "idle-relocked");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await page.evaluate(() => sessionStorage.removeItem("dermline.test.idleLockMs"));
  await page.reload();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  console.log(`ok   idle re-lock ${idleMs} ms after the reload (test hook: 4 s without activity); unlocked again with the password`);

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
  // The dermatologist's context lets the service worker run, to prove what it caches.
  const dermContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: "allow" });
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
  // Photos, chosen from the "gallery" input (accept="image/*", multiple): a close-up
  // carrying EXIF GPS (stripped on the device) and a deliberately blurred dermoscopic photo
  // that earns a quality warning BEFORE sending. The GP must tag each and may send the blurred
  // one only with "send anyway" and a stated reason.
  const samples = join(repo, "tests", "vectors", "photos");
  const accept = await gp.locator("#photos").getAttribute("accept");
  const camera = await gp.locator("#photos-camera").evaluate((i) => [i.accept, i.hasAttribute("capture"), i.multiple]);
  if (accept !== "image/*" || camera[0] !== "image/*" || !camera[1] || !camera[2]) throw new Error(`photo inputs: ${accept} ${camera}`);
  await gp.locator("#photos").setInputFiles([join(samples, "metadata.jpg"), join(samples, "blurred.jpg")]);
  await gp.getByTestId("photos-1-ok").waitFor({ timeout: 30000 });
  await gp.getByTestId("photos-2-warning").waitFor({ timeout: 30000 });
  const warning = await gp.getByTestId("photos-2-warning").innerText();
  if (!/blurred/.test(warning)) throw new Error(`blurred photo warning: ${warning}`);
  await check(gp, "gp-photos-quality-warning");
  await gp.getByRole("button", { name: "Send case" }).click();
  await checkErrors(gp, "gp-photos-errors");
  const summaryText = await gp.locator(".nhsuk-error-summary").innerText();
  if (!summaryText.includes("Select the type of photo 1") || !summaryText.includes("Photo 2 may not be good enough")) throw new Error(`photo errors: ${summaryText}`);
  await gp.locator("#photos-1-tag").selectOption("close_up");
  await gp.locator("#photos-2-tag").selectOption("dermoscopic");
  await gp.locator("#photos-2-anyway").check();
  await gp.getByRole("button", { name: "Send case" }).click();
  await checkErrors(gp, "gp-photos-reason-missing");
  await gp.getByLabel("Why are you sending photo 2 anyway?").fill("Best possible with this dermatoscope; patient cannot return this week");
  await check(gp, "gp-new-case-filled");
  await gp.getByRole("button", { name: "Send case" }).click();
  await gp.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  await gp.getByTestId("case-photo").nth(1).waitFor({ timeout: 30000 });
  await check(gp, "gp-case-sent");
  // On the phone: full screen and a two-finger pinch (touch pointer events) zooms in.
  await gp.getByRole("button", { name: /View full screen.*photo 1,/ }).click();
  await gp.getByTestId("viewer-image").waitFor({ timeout: 30000 });
  const gbox = await gp.getByTestId("viewer-stage").boundingBox();
  const cx = gbox.x + gbox.width / 2;
  const cy = gbox.y + gbox.height / 2;
  const touch = (type, id, x) => gp.getByTestId("viewer-stage").dispatchEvent(type, { pointerId: id, pointerType: "touch", isPrimary: id === 1, clientX: x, clientY: cy, bubbles: true });
  await touch("pointerdown", 1, cx - 20);
  await touch("pointerdown", 2, cx + 20);
  for (let d = 30; d <= 80; d += 10) {
    await touch("pointermove", 1, cx - d);
    await touch("pointermove", 2, cx + d);
  }
  await touch("pointerup", 1, cx - 80);
  await touch("pointerup", 2, cx + 80);
  const pinched = Number(await gp.getByTestId("viewer-stage").getAttribute("data-zoom"));
  if (!(pinched > 3)) throw new Error(`pinch did not zoom (zoom ${pinched})`);
  await check(gp, "gp-photo-pinch-zoomed");
  await gp.getByRole("button", { name: "Close", exact: true }).click();
  console.log(`ok   phone: full-screen photo pinch-zoomed to ${pinched.toFixed(2)}x with two touch pointers`);

  // No reload: the triage queue updates live over Socket.IO.
  await derm.getByText("Triage queue").waitFor({ timeout: 30000 });
  await check(derm, "derm-queue");
  await derm.getByRole("link", { name: /^Case / }).first().click();
  await derm.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  const seen = await derm.getByTestId("clinical-history").innerText();
  if (!seen.includes("943 476 5919") || !seen.includes("basal cell carcinoma")) throw new Error("dermatologist did not see the decrypted history");
  await derm.getByTestId("case-photo").nth(1).waitFor({ timeout: 30000 });
  await derm.waitForFunction(() => [...document.querySelectorAll("[data-testid=case-photo]")].every((i) => i.complete && i.naturalWidth > 0));
  const photos = await derm.getByTestId("case-photo").evaluateAll((imgs) => imgs.map((i) => [i.alt, i.naturalWidth, i.naturalHeight]));
  // The thread shows THUMBNAILS (separate attachments, 320 px long edge) first.
  if (photos.length !== 2 || photos.some(([, w, h]) => Math.max(w, h) !== 320)) throw new Error(`thumbnails not shown: ${JSON.stringify(photos)}`);
  const caption = await derm.getByTestId("photo-caption").innerText();
  if (!caption.includes("blurred") || !caption.includes("patient cannot return this week")) throw new Error(`send-anyway reason not shown: ${caption}`);
  console.log(`ok   thumbnails decrypted by the dermatologist: ${photos.map(([a, w, h]) => `${a} ${w}x${h}`).join("; ")}; send-anyway reason shown`);
  await check(derm, "derm-case-decrypted");

  // Full-screen review: wheel zoom and drag pan with the mouse, then the keyboard (+, arrows).
  await derm.getByRole("button", { name: /View full screen.*photo 1,/ }).click();
  await derm.getByTestId("photo-viewer").waitFor();
  await derm.getByTestId("viewer-image").waitFor({ timeout: 30000 });
  const full = await derm.getByTestId("viewer-image").evaluate((i) => new Promise((r) => (i.complete ? r([i.naturalWidth, i.naturalHeight]) : (i.onload = () => r([i.naturalWidth, i.naturalHeight])))));
  if (full[0] !== 1024) throw new Error(`full photo not loaded: ${full}`);
  const stage = derm.getByTestId("viewer-stage");
  const box = await stage.boundingBox();
  await derm.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await derm.mouse.wheel(0, -300);
  await derm.mouse.wheel(0, -300);
  await derm.waitForFunction(() => Number(document.querySelector("[data-testid=viewer-stage]").dataset.zoom) > 1.4);
  const before = await derm.getByTestId("viewer-image").evaluate((i) => i.style.transform);
  await derm.mouse.down();
  await derm.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 40, { steps: 5 });
  await derm.mouse.up();
  const after = await derm.getByTestId("viewer-image").evaluate((i) => i.style.transform);
  if (before === after) throw new Error("drag did not pan the zoomed photo");
  await check(derm, "derm-photo-full-screen-zoomed");
  await derm.keyboard.press("Escape");
  await derm.getByTestId("photo-viewer").waitFor({ state: "detached" });
  // Side by side: the close-up beside the dermoscopic photo.
  await derm.getByLabel("Compare photo 1").check();
  await derm.getByLabel("Compare photo 2").check();
  await derm.getByRole("button", { name: "View the 2 selected photos side by side" }).click();
  await derm.getByTestId("viewer-image").nth(1).waitFor({ timeout: 30000 });
  if ((await derm.getByTestId("viewer-stage").count()) !== 2) throw new Error("side by side did not show two photos");
  // Keyboard: focus the second photo, zoom with + and pan with the arrow keys.
  await derm.getByTestId("viewer-stage").nth(1).focus();
  await derm.keyboard.press("+");
  await derm.keyboard.press("+");
  await derm.keyboard.press("ArrowLeft");
  const z2 = await derm.getByTestId("viewer-stage").nth(1).getAttribute("data-zoom");
  const z1 = await derm.getByTestId("viewer-stage").nth(0).getAttribute("data-zoom");
  if (!(Number(z2) > 1.5 && Number(z1) === 1)) throw new Error(`keyboard zoom: ${z1} ${z2}`);
  await check(derm, "derm-photos-side-by-side");
  // Focus stays inside the dialog: 20 Tabs never leave it.
  for (let i = 0; i < 20; i++) {
    await derm.keyboard.press("Tab");
    if (!(await derm.evaluate(() => document.querySelector("[data-testid=photo-viewer]").contains(document.activeElement)))) throw new Error("Tab left the photo viewer");
  }
  await derm.getByRole("button", { name: "Close", exact: true }).click();
  await derm.getByTestId("photo-viewer").waitFor({ state: "detached" });
  console.log("ok   full-screen review: wheel zoom, drag pan, keyboard zoom and pan, two photos side by side");
  await derm.getByRole("button", { name: "Claim this case" }).click();
  await derm.getByText("In review").waitFor();
  await check(derm, "derm-case-claimed");
  // No reload: the GP's open case page updates live.
  await gp.getByText("In review").waitFor({ timeout: 30000 });
  await check(gp, "gp-case-in-review");
  console.log("ok   case sent by the GP, decrypted and claimed by the dermatologist");

  // 5. A conversation: each side's message appears on the other side without reload. An empty
  //    message first: the error summary.
  await derm.getByRole("button", { name: "Send message" }).click();
  await checkErrors(derm, "derm-reply-errors");
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
  const dermCount = await countOnceSettled(derm, "message-text", 2);
  const gpCount = await countOnceSettled(gp, "message-text", 2);
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
  const dermAfter = await countOnceSettled(derm, "message-text", 3);
  const gpAfter = await countOnceSettled(gp, "message-text", 3);
  if (dermAfter !== 3 || gpAfter !== 3) throw new Error(`after the drop: derm ${dermAfter}, gp ${gpAfter} messages (expected 3 each)`);
  await check(gp, "gp-back-online");
  console.log("ok   network drop: message resent automatically, none lost or doubled");

  // 5c. Retake: the dermatologist rejects the blurred photo with coded reasons (a
  //     retake request, distinct from asking for information); the case goes back to the GP,
  //     who adds a new photo to the SAME case; the thread shows what was asked and what came back.
  //     KEYBOARD ONLY on the dermatologist's side: Tab, Enter, Space and typing.
  await derm.evaluate(() => document.getElementById("maincontent").focus());
  await tabToText(derm, "Request a retake");
  await derm.keyboard.press("Enter");
  await tabToText(derm, "Send retake request");
  await derm.keyboard.press("Enter");
  await checkErrors(derm, "derm-retake-errors");
  await tabTo(derm, "retake-photos-2");
  await derm.keyboard.press("Space");
  await tabTo(derm, "retake-reasons");
  await derm.keyboard.press("Space");
  await tabTo(derm, "retake-text");
  await derm.keyboard.type("Please retake the dermoscopic photo in focus, with the lesion centred.");
  const ticked = await derm.evaluate(() => [document.getElementById("retake-photos-2").checked, document.getElementById("retake-reasons").checked]);
  if (!ticked.every(Boolean)) throw new Error(`keyboard: checkboxes not ticked ${ticked}`);
  if (!(await derm.getByLabel(/^Photo 2: Dermoscopic photo/).isChecked())) throw new Error("keyboard ticked the wrong photo");
  await check(derm, "derm-retake-filled");
  await tabToText(derm, "Send retake request");
  await derm.keyboard.press("Enter");
  await gp.getByText("Waiting for GP").waitFor({ timeout: 30000 });
  await gp.getByTestId("retake-request").waitFor({ timeout: 30000 });
  const asked = await gp.getByTestId("retake-request").innerText();
  if (!asked.includes("Out of focus") || !asked.includes("photo 2") || !asked.includes("in focus, with the lesion centred")) throw new Error(`retake request: ${asked}`);
  await check(gp, "gp-sees-retake-request");
  await gp.getByRole("button", { name: "Send new photos" }).click();
  await checkErrors(gp, "gp-new-photos-errors");
  await gp.locator("#new-photos").setInputFiles(join(samples, "sharp.jpg"));
  await gp.getByTestId("new-photos-1-ok").waitFor({ timeout: 30000 });
  await gp.locator("#new-photos-1-tag").selectOption("dermoscopic");
  await check(gp, "gp-retake-photo-ready");
  await gp.getByRole("button", { name: "Send new photos" }).click();
  await derm.getByText("In review").waitFor({ timeout: 30000 });
  await derm.getByText("I have added 1 new photo.").waitFor({ timeout: 30000 });
  await derm.getByTestId("case-photo").nth(2).waitFor({ timeout: 30000 });
  await derm.getByRole("heading", { name: /Photo 3: Dermoscopic photo from Dr Grace Practitioner/ }).waitFor();
  await check(derm, "derm-sees-retaken-photo");
  const cardsGp = await countOnceSettled(gp, "photo-card", 3);
  if (cardsGp !== 3) throw new Error(`GP thread shows ${cardsGp} photos, expected 3`);
  console.log("ok   retake requested with coded reasons (keyboard only); the GP added a new photo to the same case; both sides see it");

  // The service worker caches the application shell only: after the dermatologist has used the
  // case (thread, thumbnails, full-size photos, retake), list Cache Storage.
  const cached = await derm.evaluate(async () => {
    const out = [];
    for (const name of await caches.keys()) {
      for (const req of await (await caches.open(name)).keys()) out.push(new URL(req.url).pathname);
    }
    return { controlled: navigator.serviceWorker.controller !== null, out };
  });
  const notShell = cached.out.filter((p) => !(p === "/" || p === "/manifest.webmanifest" || p.startsWith("/assets/") || p.startsWith("/icons/")));
  if (!cached.controlled || cached.out.length === 0 || notShell.length > 0 || cached.out.some((p) => p.startsWith("/api/") || p.startsWith("blob:"))) {
    throw new Error(`service worker cache: ${JSON.stringify(cached)}`);
  }
  console.log(`ok   service worker (controlling the page) cached ${cached.out.length} shell entries only, no /api/ response or blob: ${cached.out.join(" ")}`);

  // 6a. "Images rejected" outcome with coded reasons: the case closes and goes back to the GP,
  //     who reopens the SAME case with new photos (resubmit); the dermatologist claims it again.
  await derm.getByRole("button", { name: "Close case" }).click();
  await derm.getByText("Select the outcome").first().waitFor();
  await checkErrors(derm, "derm-outcome-errors");
  await derm.getByLabel("Images rejected", { exact: true }).check();
  await derm.getByLabel("Poor lighting").check();
  await derm.getByLabel("Wrong or missing locator image").check();
  await derm.getByLabel("What to retake (optional)").fill("A locator photo of the whole forearm, in daylight.");
  await derm.getByLabel("Advice for the GP").fill("I cannot judge the site without a locator photo.");
  await check(derm, "derm-image-rejected-filled");
  await derm.getByRole("button", { name: "Close case" }).click();
  await gp.getByTestId("outcome").getByText("Wrong or missing locator image").waitFor({ timeout: 30000 });
  await gp.getByText("The photos were rejected. Take new photos").waitFor();
  await check(gp, "gp-sees-image-rejected");
  await gp.locator("#new-photos").setInputFiles(join(samples, "orientation_6.jpg"));
  await gp.getByTestId("new-photos-1-ok").waitFor({ timeout: 30000 });
  await gp.locator("#new-photos-1-tag").selectOption("locator");
  await gp.getByLabel("Body site").fill("left forearm, whole arm in view");
  await gp.getByRole("button", { name: "Send new photos" }).click();
  await derm.getByRole("button", { name: "Claim this case" }).waitFor({ timeout: 30000 });
  await derm.getByRole("heading", { name: /Photo 4: Locator photo from Dr Grace Practitioner/ }).waitFor({ timeout: 30000 });
  await check(derm, "derm-sees-resubmitted-case");
  await derm.getByRole("button", { name: "Claim this case" }).click();
  await derm.getByText("In review").waitFor();
  console.log("ok   images rejected with coded reasons; GP resubmitted the same case with a new locator photo; claimed again");

  // 6b. The dermatologist closes with a structured outcome; the GP sees it without reload.
  await derm.getByRole("button", { name: "Close case" }).click();
  await derm.getByText("Select the outcome").first().waitFor();
  await derm.getByLabel("Referral", { exact: true }).check();
  await derm.getByLabel("Two-week wait (suspected cancer)").check();
  await derm.getByLabel("Dermatology clinic").check();
  await derm.getByLabel("Advice for the GP").fill("Features suggest a basal cell carcinoma; refer to the skin cancer clinic.");
  await check(derm, "derm-outcome-filled");
  await derm.getByRole("button", { name: "Close case" }).click();
  await derm.getByTestId("outcome").getByText("Two-week wait").waitFor({ timeout: 30000 });
  await gp.getByTestId("outcome").getByText("Two-week wait").waitFor({ timeout: 30000 });
  const gpOutcome = await gp.getByTestId("outcome").innerText();
  if (!gpOutcome.includes("Two-week wait") || !gpOutcome.includes("skin cancer clinic")) throw new Error("GP did not see the decrypted outcome");
  await gp.getByText("Closed").first().waitFor();
  await check(gp, "gp-sees-outcome");
  console.log("ok   outcome closed by the dermatologist, decrypted by the GP live");

  // 6c. Only the referring GP may downgrade a two-week-wait decision.
  if ((await derm.getByRole("button", { name: "Change urgency" }).count()) !== 0) problems.push("the dermatologist is offered Change urgency");
  await gp.getByRole("button", { name: "Change urgency" }).click();
  await gp.getByRole("button", { name: "Continue" }).click();
  await checkErrors(gp, "gp-downgrade-errors");
  await gp.getByLabel("Urgent", { exact: true }).check();
  const downgradeReason = "Seen in surgery today: regressing, no features of melanoma.";
  await gp.getByLabel("Why are you changing the urgency?").fill(downgradeReason);
  await gp.getByRole("button", { name: "Continue" }).click();
  await gp.getByTestId("downgrade-check").getByText(downgradeReason).waitFor();
  await check(gp, "gp-downgrade-check");
  await gp.getByRole("button", { name: "Confirm change" }).click();
  const lowered = "Urgent (downgraded from two-week wait by the referring GP)";
  for (const pg of [gp, derm]) {
    await pg.getByTestId("outcome").getByText(lowered).waitFor({ timeout: 30000 });
    await pg.getByTestId("outcome").getByText(downgradeReason).waitFor({ timeout: 30000 });
  }
  if ((await gp.getByRole("button", { name: "Change urgency" }).count()) !== 0) problems.push("Change urgency still offered after the downgrade");
  await check(derm, "derm-sees-downgrade");
  console.log("ok   the referring GP downgraded the two-week wait with a reason; both sides see it live");

  // 8. Performance: a thread with 20 photos. The GP sends a second case with 20 photos; the
  //    dermatologist opens it from the queue; timed from the click to the clinical history and
  //    all 20 thumbnails downloaded, hash-checked, decrypted and painted (< 1 s).
  await gp.goto(`${origin}/#/cases/new`);
  await gp.getByLabel("NHS number").fill("943 476 5919");
  await gp.getByLabel("Full name").fill("Second Patient");
  await gp.getByLabel("Date of birth").fill("2 11 1975");
  await gp.getByLabel("Male", { exact: true }).check();
  await gp.getByLabel("Body site", { exact: true }).fill("back");
  await gp.getByLabel("How long has the patient had it?").fill("3 months");
  await gp.locator("#previous-cancer-2").check();
  await gp.getByLabel("Skin type (Fitzpatrick)").selectOption("III");
  await gp.getByLabel("Your question for the dermatologist").fill("Twenty naevi on the back: any of concern?");
  await gp.locator("#consent").check();
  const sharp = readFileSync(join(samples, "sharp.jpg"));
  await gp.locator("#photos").setInputFiles(Array.from({ length: 20 }, (_, i) => ({ name: `naevus-${i + 1}.jpg`, mimeType: "image/jpeg", buffer: sharp })));
  await gp.getByTestId("photos-20-ok").waitFor({ timeout: 60000 });
  for (let i = 1; i <= 20; i++) await gp.locator(`#photos-${i}-tag`).selectOption(i === 1 ? "locator" : "close_up");
  await gp.getByRole("button", { name: "Send case" }).click();
  await gp.getByTestId("case-photo").nth(19).waitFor({ timeout: 60000 });
  await derm.goto(`${origin}/#/cases`);
  const link = derm.getByRole("link", { name: /^Case / }).first();
  await link.waitFor({ timeout: 30000 });
  const t20 = Date.now();
  await link.click();
  await derm.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  await derm.waitForFunction(() => {
    const imgs = [...document.querySelectorAll("[data-testid=case-photo]")];
    return imgs.length === 20 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, undefined, { timeout: 30000, polling: "raf" });
  const thread20 = Date.now() - t20;
  const heard = await derm.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(true))));
  console.log(`     thread with 20 photos: clinical history and 20 thumbnails decrypted and shown ${thread20} ms after the click (target < 1000 ms)${heard ? "" : " (no frame)"}`);
  // Printed, not asserted: a wall-clock time depends on how busy the machine is (CI runs this
  // on 2 cores beside the server), so a failure here would say nothing about the change tested.
  await check(derm, "derm-thread-20-photos");

  // A corrupt photo never breaks the thread: one thumbnail's ciphertext is altered on the wire
  // (its last byte flipped); that card says so, the history and the 19 others still show.
  let altered = 0;
  const attachmentUrl = /\/api\/v1\/cases\/[^/]+\/attachments\/[^/]+$/;
  await derm.route(attachmentUrl, async (route) => {
    if (altered++ > 0) return route.continue();
    const res = await route.fetch();
    const body = await res.body();
    body[body.length - 1] ^= 1;
    return route.fulfill({ response: res, body });
  });
  // Leave and reopen the case (a hash change, not a reload: the keys stay in memory).
  await derm.evaluate(() => (location.hash = "#/cases"));
  await link.click();
  await derm.getByTestId("clinical-history").waitFor({ timeout: 30000 });
  await derm.getByTestId("photo-failed").waitFor({ timeout: 30000 });
  await derm.waitForFunction(() => [...document.querySelectorAll("[data-testid=case-photo]")].filter((i) => i.complete && i.naturalWidth > 0).length === 19, undefined, { timeout: 30000 });
  if ((await derm.getByTestId("photo-failed").count()) !== 1) throw new Error("expected exactly one failed photo");
  await check(derm, "derm-thread-corrupt-photo");
  await derm.unroute(attachmentUrl);
  console.log("ok   a photo altered on the wire shows a message in its own card; the thread and 19 other photos still show");

  // 9. Patient photo link: the GP makes a one-time link for this case (text
  //    and QR code); a THIRD browser context (the patient: a phone, no account, no cookie)
  //    opens it, is refused without consent or photos, attaches two photos (one blurred: sent
  //    anyway with a reason), and sends; the GP and the dermatologist see them arrive without
  //    reload and view them; reusing the link fails; a cancelled link fails; a mistyped link
  //    says so. The token never appears in a request URL or in the server's log.
  await gp.getByRole("button", { name: "Ask the patient for photos" }).click();
  await gp.getByTestId("patient-link-qr").waitFor({ timeout: 30000 });
  const patientUrl = await gp.locator("#patient-link-url").inputValue();
  const fragment = /\/#\/p\/([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{87})$/.exec(patientUrl);
  if (!fragment || !patientUrl.startsWith(origin)) throw new Error(`patient link: ${patientUrl}`);
  await check(gp, "gp-patient-link-made");
  const patientContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, serviceWorkers: "block" });
  const patient = await patientContext.newPage();
  // Expected on this page: the 410 "link_invalid" answers to the used and cancelled links, and
  // the shell's one "am I signed in?" 401 on load (the browser logs every 4xx resource).
  // Anything else is a failure, as for the others.
  patient.on("console", (m) => {
    if (m.type() === "error" && !/status of 4(01|10)/.test(m.text())) problems.push(`patient: console error: ${m.text()}`);
  });
  patient.on("pageerror", (e) => problems.push(`patient: page error: ${e.message}`));
  extraPages.push(patient);
  const patientRequests = [];
  patient.on("request", (r) => {
    if (!r.isNavigationRequest()) patientRequests.push([r.url(), r.headers().cookie ?? ""]);
  });
  await patient.goto(patientUrl);
  await patient.getByRole("heading", { name: "Send photos to your GP practice" }).waitFor({ timeout: 30000 });
  await check(patient, "patient-start");
  await patient.getByRole("button", { name: "Send photos" }).click();
  await checkErrors(patient, "patient-errors-nothing-chosen");
  const patientSummary = await patient.locator(".nhsuk-error-summary").innerText();
  if (!patientSummary.includes("Confirm that you agree") || !patientSummary.includes("Take or choose at least one photo")) throw new Error(`patient errors: ${patientSummary}`);
  await patient.locator("#patient-photos").setInputFiles([join(samples, "metadata.jpg"), join(samples, "blurred.jpg")]);
  await patient.getByTestId("patient-photos-1-ok").waitFor({ timeout: 30000 });
  await patient.getByTestId("patient-photos-2-warning").waitFor({ timeout: 30000 });
  await check(patient, "patient-photos-chosen");
  await patient.locator("#patient-photos-1-tag").selectOption("locator");
  await patient.locator("#patient-photos-1-site").fill("Left forearm");
  await patient.locator("#patient-photos-2-tag").selectOption("close_up");
  await patient.locator("#patient-photos-2-site").fill("Left forearm");
  await patient.locator("#patient-photos-2-anyway").check();
  await patient.locator("#consent").check();
  await patient.getByRole("button", { name: "Send photos" }).click();
  await checkErrors(patient, "patient-errors-reason-missing");
  await patient.getByLabel("Why are you sending photo 2 anyway?").fill("My hand shakes; this is the best I can do");
  await patient.getByRole("button", { name: "Send photos" }).click();
  await patient.getByTestId("patient-sent").waitFor({ timeout: 60000 });
  await check(patient, "patient-sent");
  const leaked = patientRequests.filter(([u, c]) => u.includes(fragment[1]) || u.includes(fragment[2]) || c !== "");
  if (leaked.length) throw new Error(`patient requests carried the link or a cookie: ${JSON.stringify(leaked)}`);
  // Live on both sides, no reload: the photos arrive and decrypt (thumbnails first).
  for (const [pg, who] of [[gp, "gp"], [derm, "derm"]]) {
    await pg.waitForFunction(() => {
      const imgs = [...document.querySelectorAll("[data-testid=patient-photo]")];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    }, undefined, { timeout: 30000 });
    const note = await pg.getByTestId("patient-photo-warning").innerText();
    if (!note.includes("this is the best I can do")) throw new Error(`${who}: send-anyway reason not shown: ${note}`);
    await check(pg, `${who}-patient-photos-arrived`);
  }
  await derm.getByTestId("patient-photo-card").nth(1).getByRole("button", { name: /^View full screen/ }).click();
  await derm.getByTestId("viewer-image").waitFor({ timeout: 30000 });
  await check(derm, "derm-patient-photo-full-screen");
  await derm.getByRole("button", { name: "Close", exact: true }).click();
  // Single use: the same link again.
  await patient.goto(`${origin}/#/`);
  await patient.goto(patientUrl);
  await patient.getByRole("heading", { name: "This link can no longer be used" }).waitFor({ timeout: 30000 });
  await check(patient, "patient-link-used");
  // A cancelled link: the GP makes another and cancels it before the patient opens it.
  await gp.evaluate(() => (location.hash = "#/cases"));
  await gp.getByRole("link", { name: /^Case / }).first().click();
  await gp.getByRole("button", { name: "Ask the patient for photos" }).click();
  await gp.getByTestId("patient-link-qr").waitFor({ timeout: 30000 });
  const secondUrl = await gp.locator("#patient-link-url").inputValue();
  await gp.getByRole("button", { name: /^Cancel this link/ }).click();
  await gp.getByText("Cancelled").first().waitFor({ timeout: 30000 });
  await check(gp, "gp-patient-link-cancelled");
  await patient.goto(`${origin}/#/`);
  await patient.goto(secondUrl);
  await patient.getByRole("heading", { name: "This link can no longer be used" }).waitFor({ timeout: 30000 });
  await patient.goto(`${origin}/#/`);
  await patient.goto(secondUrl.slice(0, -3));
  await patient.getByRole("heading", { name: "This link is not complete" }).waitFor({ timeout: 30000 });
  await check(patient, "patient-link-mistyped");
  if (output().includes(fragment[1]) || output().includes(fragment[2])) throw new Error("the server log holds the patient link");
  console.log("ok   patient link: sent from a third browser without an account, seen live by GP and dermatologist; reuse, cancel and typo refused");

  // 7. Sign out forgets the remembered key: after a reload the admin is not signed in.
  await page.goto(`${new URL(setupLink).origin}/#/cases`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  // From memory, without a reload: the keys are gone, so the case list (same page, same
  // JavaScript heap) shows the public start page, not the user's cases.
  await page.evaluate(() => (location.hash = "#/cases"));
  await page.getByRole("heading", { name: "Secure skin advice and guidance" }).waitFor();
  if ((await page.getByTestId("signed-in").count()) !== 0) throw new Error("signed-in content shown after sign out");
  await page.goto(`${new URL(setupLink).origin}/#/`);
  await page.reload();
  await page.getByRole("heading", { name: "Secure skin advice and guidance" }).waitFor();
  const left = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const r = indexedDB.open("dermline-device");
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
  writeFileSync(join(outDir, "server.log"), output());
  await browser.close();
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : "account and case flows pass end to end");
process.exit(problems.length ? 1 : 0);
