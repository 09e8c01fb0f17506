// End-to-end check of the FIRST USER'S administration in the browser against a LIVE Dermline
// server (run: `node scripts/e2e-admin.mjs`, part of `npm run e2e`, after `npm run build`;
// needs ../.venv). It starts a fresh server (temporary data dir, random port, serving dist/),
// reads the one-time setup link from its output, and in headless Chromium on a phone (360x640):
//   1. the first administrator accepts the setup link (password, recovery key confirmed,
//      TOTP enrolled with codes computed here, RFC 6238) and finds "Administration";
//   2. creates a GP practice: the records key pair is made in the browser, its fingerprint
//      shown, the passphrase-sealed records key file (type 0x09) downloaded; the file is then
//      opened by the PYTHON reference (`crypto.records_key.open_records_key_file`, and
//      `python -m client_py records-key check`), and its public key must equal the one the
//      server now holds for the practice, and the fingerprint the page showed;
//   3. creates a dermatology service;
//   4. invites a GP (link shown once, "Copy link" puts exactly it on the clipboard, the QR code
//      drawn on the page decodes to exactly it) and a
//      dermatologist (bound to an email address);
//   5. both invites are accepted in their own browser contexts (GP on a phone, dermatologist
//      on a desktop) and both reach their case lists; a GP who opens #/admin is told they
//      cannot use it, and the server refuses their admin API calls (403);
//   6. the admin sees both people with their roles, signs the GP out everywhere (the GP's
//      session then answers 401) and resets the dermatologist's two-factor authentication
//      (their session ends; the list then says the authenticator is not set up).
//   7. the admin invites someone by mistake, sees the invite listed as pending (the accepted GP
//      invite as used), cancels it with the keyboard after a confirmation, and the cancelled
//      link then shows the invite page's error (and the server answers 410).
// Invalid submissions show the NHS.UK error summary (scripts/checks.mjs); every page is checked
// with axe-core (no serious/critical violation), for 24x24 px touch targets and for console
// errors (a CSP violation is one). Screenshots: test-results/e2e-admin/. Exit 1 on failure.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessibilityProblems, launchChromium, nowStep, startServer, totp } from "./e2e-lib.mjs";
import { errorSummaryProblems } from "./checks.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const python = join(repo, ".venv", "bin", "python");
const outDir = join(root, "test-results", "e2e-admin");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const downloads = mkdtempSync(join(tmpdir(), "dermline-e2e-admin-downloads-"));
const { server, dataDir, setupLink, output } = await startServer({ repo, staticDir: join(root, "dist"), prefix: "dermline-e2e-admin-" });
const origin = new URL(setupLink).origin;
const browser = await launchChromium();
const problems = [];
function watch(pg, who) {
  pg.on("console", (m) => {
    // Expected: 401/403 while signing in and after a revoke; anything else (a CSP violation,
    // an exception) is a failure.
    if (m.type() === "error" && !/status of 40[13]/.test(m.text())) problems.push(`${who}: console error: ${m.text()}`);
  });
  pg.on("pageerror", (e) => problems.push(`${who}: page error: ${e.message}`));
}

let shot = 0;
async function check(pg, name) {
  problems.push(...(await accessibilityProblems(pg, name)));
  const overflow = await pg.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) problems.push(`${name}: horizontal overflow of ${overflow}px`);
  shot += 1;
  await pg.screenshot({ path: join(outDir, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  console.log(`ok   ${name}`);
}

/** After an invalid submission: the NHS.UK error summary pattern (scripts/checks.mjs). */
async function checkErrors(pg, name, expected) {
  await pg.locator(".nhsuk-error-summary").waitFor();
  await pg.waitForFunction(() => document.activeElement?.classList.contains("nhsuk-error-summary"));
  for (const t of await pg.evaluate(errorSummaryProblems)) problems.push(`${name}: ${t}`);
  const text = await pg.locator(".nhsuk-error-summary").innerText();
  for (const e of expected) if (!text.includes(e)) problems.push(`${name}: error summary lacks "${e}": ${text}`);
  await check(pg, name);
}

async function acceptInvite(pg, link, who, name, pass, label) {
  await pg.goto(link);
  await pg.getByLabel("Email address").waitFor();
  await pg.getByLabel("Email address").fill(who);
  await pg.getByLabel("Full name").fill(name);
  await pg.getByLabel("Password", { exact: true }).fill(pass);
  await pg.getByLabel("Enter the password again").fill(pass);
  await pg.getByRole("button", { name: "Continue" }).click();
  const keyText = await pg.getByTestId("recovery-key").innerText();
  const groups = keyText.replace(/Group \d+:/g, "").trim().split(/\s+/);
  const groupLabel = await pg.locator("label[for=group]").innerText();
  const k = Number(/group (\d+)/.exec(groupLabel)[1]);
  await pg.getByLabel(groupLabel).fill(groups[k - 1]);
  await pg.getByRole("button", { name: "Create account" }).click();
  await pg.getByTestId("totp-key").waitFor({ timeout: 30000 });
  const secret = (await pg.getByTestId("totp-key").innerText()).replace(/\s/g, "");
  await pg.getByLabel("Security code").fill(totp(secret, nowStep()));
  await pg.getByRole("button", { name: "Confirm" }).click();
  await pg.getByRole("button", { name: "I have saved my recovery codes" }).click();
  await pg.getByTestId("signed-in").waitFor({ timeout: 30000 });
  console.log(`ok   ${label}: invite accepted, TOTP enrolled, signed in`);
}

/** An API call from inside the page (same origin, session cookie, CSRF header): the status. */
async function statusFromPage(pg, method, path, body) {
  return pg.evaluate(
    async ([m, p, b]) => {
      const csrf = /(?:^|;\s*)dermline_csrf=([^;]+)/.exec(document.cookie)?.[1];
      const res = await fetch(`/api/v1${p}`, {
        method: m,
        headers: { "Content-Type": "application/json", ...(csrf ? { "X-CSRF-Token": decodeURIComponent(csrf) } : {}) },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      return { status: res.status, body: await res.text() };
    },
    [method, path, body],
  );
}

const passphrase = "records officer's long passphrase";
try {
  // 1. The first administrator, from the setup link the fresh server printed.
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block", acceptDownloads: true });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = await context.newPage();
  watch(page, "admin");
  await acceptInvite(page, setupLink, "admin@example.nhs.uk", "Ada Admin", "a long and unguessable passphrase", "admin");
  await page.getByTestId("admin-entry").click();
  await page.getByRole("heading", { name: "Administration", exact: true }).waitFor();
  await page.getByTestId("admin-orgs").getByText("Administration").waitFor();
  await check(page, "admin-home");

  // 2. A GP practice with its records key made in the browser.
  await page.getByRole("button", { name: "Create a GP practice" }).click();
  await page.getByRole("heading", { name: "Create a GP practice" }).waitFor();
  await page.getByRole("button", { name: "Make the records key" }).click();
  await checkErrors(page, "admin-practice-errors", ["Enter the name of the GP practice", "Enter a passphrase"]);
  await page.getByLabel("Name of the GP practice").fill("Riverside Surgery");
  await page.getByLabel("Passphrase for the records key file").fill(passphrase);
  await page.getByLabel("Enter the passphrase again").fill(`${passphrase} typo`);
  await page.getByRole("button", { name: "Make the records key" }).click();
  await checkErrors(page, "admin-practice-passphrase-mismatch", ["The passphrases do not match"]);
  await page.getByLabel("Enter the passphrase again").fill(passphrase);
  const tKey = Date.now();
  await page.getByRole("button", { name: "Make the records key" }).click();
  await page.getByTestId("records-fingerprint").waitFor({ timeout: 30000 });
  const keyMs = Date.now() - tKey;
  const shownFingerprint = (await page.getByTestId("records-fingerprint").innerText()).trim();
  if (!/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/.test(shownFingerprint)) throw new Error(`fingerprint shown: ${shownFingerprint}`);
  console.log(`     records key made, sealed (PBKDF2 600,000) and re-opened in the browser in ${keyMs} ms`);
  await check(page, "admin-practice-save-key");
  // Not yet downloaded, not confirmed: refused with both errors, and no practice is created.
  await page.getByRole("button", { name: "Create the practice" }).click();
  await checkErrors(page, "admin-practice-not-saved", ["Download the records key file", "Confirm that the file"]);
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download the records key file" }).click()]);
  if (download.suggestedFilename() !== "riverside-surgery-records.key") throw new Error(`download name ${download.suggestedFilename()}`);
  const keyFile = join(downloads, download.suggestedFilename());
  await download.saveAs(keyFile);
  const keyBytes = readFileSync(keyFile);
  if (statSync(keyFile).size !== 101 || keyBytes[0] !== 1 || keyBytes[1] !== 1 || keyBytes[2] !== 9) throw new Error("downloaded file is not a 0x09 record");
  await page.getByLabel("I have saved the records key file and its passphrase in 2 safe places").check();
  await page.getByRole("button", { name: "Create the practice" }).click();
  await page.getByTestId("practice-created").waitFor();
  await check(page, "admin-practice-created");
  // The Python reference opens the browser's file; its public key is the practice's on the server.
  const opened = JSON.parse(
    execFileSync(
      python,
      [
        "-c",
        "import base64,json,os,sys\nfrom crypto.records_key import open_records_key_file\n" +
          "p = open_records_key_file(open(sys.argv[1], 'rb').read(), os.environ['DERMLINE_RECORDS_PASSPHRASE'])\n" +
          "print(json.dumps({'public_key': base64.urlsafe_b64encode(p.public_key).rstrip(b'=').decode(), 'key_id': p.key_id.hex()}))",
        keyFile,
      ],
      { cwd: repo, env: { ...process.env, DERMLINE_RECORDS_PASSPHRASE: passphrase } },
    ).toString(),
  );
  const orgs = JSON.parse((await statusFromPage(page, "GET", "/orgs")).body).organisations;
  const practice = orgs.find((o) => o.name === "Riverside Surgery");
  if (!practice || practice.kind !== "practice") throw new Error("practice not on the server");
  if (practice.records_public_key !== opened.public_key) throw new Error("server's records key differs from the file's");
  if (opened.key_id.replace(/(.{4})(?=.)/g, "$1 ") !== shownFingerprint) throw new Error("fingerprint shown differs from the file's key id");
  const cli = JSON.parse(
    execFileSync(python, ["-m", "client_py", "records-key", "check", "--key", keyFile], {
      cwd: repo,
      env: { ...process.env, DERMLINE_RECORDS_PASSPHRASE: passphrase },
    }).toString(),
  );
  if (cli.fingerprint !== shownFingerprint) throw new Error(`CLI fingerprint ${cli.fingerprint} != ${shownFingerprint}`);
  let wrongOpened = true;
  try {
    execFileSync(python, ["-m", "client_py", "records-key", "check", "--key", keyFile], {
      cwd: repo,
      env: { ...process.env, DERMLINE_RECORDS_PASSPHRASE: "not the passphrase at all" },
      stdio: "pipe",
    });
  } catch {
    wrongOpened = false;
  }
  if (wrongOpened) throw new Error("the records key file opened with a wrong passphrase");
  console.log("ok   records key file from the browser opens in Python; its public key is the practice's; fingerprints agree; a wrong passphrase fails");

  // 4a. Invite a GP to the practice; the link is shown once and copied exactly.
  await page.getByRole("button", { name: "Invite people to this practice" }).click();
  await page.getByRole("heading", { name: "Invite a person to Riverside Surgery" }).waitFor();
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await checkErrors(page, "admin-invite-errors", ["Select the person's role"]);
  await page.getByLabel(/^GP:/).check();
  await check(page, "admin-invite-form");
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.getByTestId("invite-created").waitFor();
  const gpLink = await page.getByLabel("Invitation link").inputValue();
  if (!gpLink.startsWith(`${origin}/#/invite/`)) throw new Error(`invite link ${gpLink}`);
  await page.getByRole("button", { name: "Copy link" }).click();
  await page.getByTestId("copy-status").waitFor();
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  if (clip !== gpLink) throw new Error("the copied text is not the invite link");
  // The QR code as drawn on the page decodes to exactly the link (pixels read back from a
  // canvas, decoded here by the reader of @paulmillr/qr, a separate code path from its writer).
  await page.getByTestId("invite-qr").waitFor();
  const pixels = await page.getByTestId("invite-qr").evaluate(async (img) => {
    await img.decode();
    const c = document.createElement("canvas");
    c.width = 440;
    c.height = 440;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 440, 440);
    ctx.drawImage(img, 0, 0, 440, 440);
    return Array.from(ctx.getImageData(0, 0, 440, 440).data);
  });
  const { default: decodeQR } = await import("@paulmillr/qr/decode.js");
  const fromQr = decodeQR({ width: 440, height: 440, data: Uint8Array.from(pixels) });
  if (fromQr !== gpLink) throw new Error(`the QR code decodes to ${fromQr}, not the invite link`);
  await check(page, "admin-invite-gp-link");

  // 3. A dermatology service, then 4b. a dermatologist invited by email address.
  await page.goto(`${origin}/#/admin`);
  await page.getByRole("button", { name: "Create a dermatology service" }).click();
  await page.getByRole("button", { name: "Create service" }).click();
  await checkErrors(page, "admin-service-errors", ["Enter the name of the dermatology service"]);
  await page.getByLabel("Name of the dermatology service").fill("City Dermatology");
  await page.getByRole("button", { name: "Create service" }).click();
  await page.getByTestId("service-created").waitFor();
  await check(page, "admin-service-created");
  await page.getByRole("button", { name: "Invite a dermatologist" }).click();
  await page.getByLabel(/^Dermatologist:/).check();
  await page.getByLabel("Their email address (optional)").fill("not an email");
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await checkErrors(page, "admin-invite-email-error", ["Enter an email address in the correct format"]);
  await page.getByLabel("Their email address (optional)").fill("derm@city.nhs.uk");
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.getByTestId("invite-created").waitFor();
  const dermLink = await page.getByLabel("Invitation link").inputValue();
  if (dermLink === gpLink) throw new Error("two invites, one link");

  // 5. Both invites accepted, each in its own browser context.
  const gpContext = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const gp = await gpContext.newPage();
  watch(gp, "gp");
  await acceptInvite(gp, gpLink, "gp@riverside.nhs.uk", "Dr Grace Practitioner", "gp passphrase for the test", "gp");
  if (!(await gp.getByRole("button", { name: "Send a new case" }).isVisible())) throw new Error("GP cannot send a case");
  if ((await gp.getByTestId("admin-entry").count()) !== 0) throw new Error("a GP is offered administration");
  await gp.goto(`${origin}/#/admin`);
  await gp.getByRole("heading", { name: "You cannot use administration" }).waitFor();
  await check(gp, "gp-not-admin");
  const gpCreate = await statusFromPage(gp, "POST", "/orgs", { kind: "service", name: "Sneaky" });
  if (gpCreate.status !== 403) throw new Error(`a GP creating an organisation got ${gpCreate.status}`);
  const dermContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: "block" });
  const derm = await dermContext.newPage();
  watch(derm, "derm");
  await acceptInvite(derm, dermLink, "derm@city.nhs.uk", "Dr Dan Dermatologist", "derm passphrase for the test", "derm");
  await derm.getByText("The triage queue is empty.").waitFor({ timeout: 30000 });
  // From this script, not a page (a 410 in a page would be a console error).
  const reused = await fetch(`${origin}/api/v1/invites/inspect`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: origin },
    body: JSON.stringify({ token: new URL(dermLink).hash.split("/").pop() }),
  });
  if (reused.status !== 410) throw new Error(`a used invite answered ${reused.status}`);
  console.log("ok   GP and dermatologist invites accepted; a used invite is gone; a GP cannot administer");

  // 6. People and roles; sign the GP out everywhere.
  await page.goto(`${origin}/#/admin`);
  await page.getByRole("link", { name: "Riverside Surgery" }).click();
  await page.getByTestId("admin-people").waitFor();
  const row = page.getByTestId("person").filter({ hasText: "Dr Grace Practitioner" });
  const rowText = await row.innerText();
  if (!rowText.includes("gp@riverside.nhs.uk") || !/\bGP\b/.test(rowText) || !rowText.includes("Active")) throw new Error(`GP row: ${rowText}`);
  const heldFingerprint = (await page.getByTestId("org-records-fingerprint").innerText()).trim();
  if (heldFingerprint !== shownFingerprint) throw new Error(`server-held records key ${heldFingerprint} != ${shownFingerprint}`);
  await check(page, "admin-people-practice");
  await page.getByRole("button", { name: "Sign out everywhere: Dr Grace Practitioner" }).click();
  await page.getByTestId("admin-confirm").waitFor();
  await check(page, "admin-confirm-revoke");
  await page.getByRole("button", { name: "Yes, sign them out" }).click();
  const revoked = await page.getByTestId("admin-status").innerText();
  if (!/signed out everywhere \(1 session ended\)/.test(revoked)) throw new Error(`revoke status: ${revoked}`);
  const gpMe = await statusFromPage(gp, "GET", "/me");
  if (gpMe.status !== 401) throw new Error(`GP session after revoke answered ${gpMe.status}`);
  await check(page, "admin-revoked");

  // Reset the dermatologist's second factor.
  await page.goto(`${origin}/#/admin`);
  await page.getByRole("link", { name: "City Dermatology" }).click();
  await page.getByTestId("admin-people").waitFor();
  await page.getByRole("button", { name: "Reset two-factor authentication: Dr Dan Dermatologist" }).click();
  await page.getByRole("button", { name: "Yes, reset it" }).click();
  await page.getByTestId("admin-status").waitFor();
  await page.getByTestId("person").filter({ hasText: "Authenticator not set up" }).waitFor();
  const dermMe = await statusFromPage(derm, "GET", "/me");
  if (dermMe.status !== 401) throw new Error(`dermatologist session after 2FA reset answered ${dermMe.status}`);
  await check(page, "admin-2fa-reset");
  console.log("ok   people listed with roles; sign out everywhere ended the GP's session; 2FA reset ended the dermatologist's and cleared their authenticator");

  // 7. Invitations: one sent to the wrong person is listed as pending and cancelled (with the
  //    keyboard, after a confirmation); its link then refuses to be used.
  await page.goto(`${origin}/#/admin/orgs/${practice.org_id}/invite`);
  await page.getByLabel(/^GP:/).check();
  await page.getByLabel("Their email address (optional)").fill("wrong.person@example.org");
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.getByTestId("invite-created").waitFor();
  const wrongLink = await page.getByLabel("Invitation link").inputValue();
  await page.getByRole("button", { name: "Back to people" }).click();
  await page.getByTestId("invite-list").waitFor();
  const wrongRow = page.getByTestId("invite").filter({ hasText: "wrong.person@example.org" });
  if ((await wrongRow.getAttribute("data-status")) !== "pending" || !(await wrongRow.innerText()).includes("Waiting to be used")) {
    throw new Error(`new invite row: ${await wrongRow.innerText()}`);
  }
  const usedRow = page.getByTestId("invite").filter({ hasText: "GP, anyone with the link" }).first();
  if ((await usedRow.getAttribute("data-status")) !== "used") throw new Error(`the GP's accepted invite shows ${await usedRow.getAttribute("data-status")}`);
  if ((await usedRow.getByRole("button").count()) !== 0) throw new Error("a used invite offers cancelling");
  if ((await page.getByTestId("invite-list").innerText()).includes(new URL(wrongLink).hash.split("/").pop())) throw new Error("the invite list shows a token");
  await check(page, "admin-invites-pending");
  await page.getByRole("button", { name: "Cancel invite: GP for wrong.person@example.org" }).focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("invite-confirm").waitFor();
  await page.waitForFunction(() => document.activeElement?.textContent?.startsWith("Cancel the invitation"));
  await check(page, "admin-invite-cancel-confirm");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  if (focused !== "Yes, cancel the invitation") throw new Error(`Tab from the question reaches "${focused}"`);
  await page.keyboard.press("Enter");
  await page.getByTestId("invite-status").waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "invite-status");
  await wrongRow.and(page.locator('[data-status="revoked"]')).waitFor();
  if (!(await wrongRow.innerText()).includes("Cancelled") || (await wrongRow.getByRole("button").count()) !== 0) throw new Error(`cancelled row: ${await wrongRow.innerText()}`);
  await check(page, "admin-invite-cancelled");
  // The cancelled link, opened by the person it was sent to: the invite page refuses it. Its
  // 410 answer is expected here (and only here), with the 401 of a browser not signed in, so
  // this page has its own console watcher.
  const wrongContext = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const wrong = await wrongContext.newPage();
  wrong.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|410)/.test(m.text())) problems.push(`cancelled-invitee: console error: ${m.text()}`);
  });
  wrong.on("pageerror", (e) => problems.push(`cancelled-invitee: page error: ${e.message}`));
  await wrong.goto(wrongLink);
  await wrong.getByText("This invitation link has expired, was cancelled or has already been used").first().waitFor();
  if ((await wrong.getByLabel("Email address").count()) !== 0) throw new Error("a cancelled invite still offers the account form");
  await check(wrong, "invite-cancelled-link");
  const inspected = await fetch(`${origin}/api/v1/invites/inspect`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: origin },
    body: JSON.stringify({ token: new URL(wrongLink).hash.split("/").pop() }),
  });
  if (inspected.status !== 410) throw new Error(`a cancelled invite answered ${inspected.status}`);
  console.log("ok   an invite sent to the wrong person is listed as pending, cancelled with the keyboard after a confirmation, and its link refuses to be used");

  // The organisation key (docs/protocol.md section 21), made in the administrator's browser
  // and wrapped to the administrators the log shows; then an invite from the same page is
  // certified: its link carries token.s.okid, and a newcomer's browser says so.
  await page.goto(`${origin}/#/admin/orgs/${practice.org_id}`);
  await page.getByRole("button", { name: "Set up the organisation key" }).click();
  await page.getByTestId("org-key-status").getByText("The organisation key is set up").waitFor({ timeout: 30000 });
  await page.getByTestId("org-key").getByText("Key id").waitFor({ timeout: 30000 });
  await check(page, "admin-org-key");
  await page.goto(`${origin}/#/admin/orgs/${practice.org_id}/invite`);
  await page.getByLabel(/^GP:/).check();
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.getByTestId("invite-created").waitFor({ timeout: 30000 });
  const certifiedLink = await page.getByLabel("Invitation link").inputValue();
  if (new URL(certifiedLink).hash.split("/").pop().split(".").length !== 3) throw new Error(`not a certified link: ${certifiedLink}`);
  const nc = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const np = await nc.newPage();
  np.on("pageerror", (e) => problems.push(`certified-invitee: page error: ${e.message}`));
  await np.goto(certifiedLink);
  await np.getByTestId("invite-certified").getByText("Certified by").waitFor({ timeout: 30000 });
  await check(np, "certified-invite-details");
  await nc.close();
  console.log("ok   the organisation key set up in the browser; the next invite is certified and the newcomer's browser checks it");
} catch (e) {
  problems.push(`flow failed: ${e.message}`);
  for (const [i, pg] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    await pg.screenshot({ path: join(outDir, `failure-${i + 1}.png`), fullPage: true }).catch(() => undefined);
  }
} finally {
  writeFileSync(join(outDir, "server.log"), output());
  await browser.close();
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(downloads, { recursive: true, force: true });
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : "first-user administration passes end to end");
process.exit(problems.length ? 1 : 0);
