// End-to-end check of PASSKEYS in the browser against a LIVE Dermline server (run:
// `node scripts/e2e-passkeys.mjs`, after `npm run build`; needs ../.venv). It starts a fresh
// server (temporary data dir, random port, serving dist/) and drives headless Chromium in a
// phone context (360x640, touch) whose page holds a virtual platform authenticator made
// through the DevTools protocol's WebAuthn domain (CTAP2, internal transport, resident keys,
// user verification, PRF). The relying party is `localhost` (browsers refuse an IP address),
// so the page is opened at http://localhost:PORT. Then:
//   1. the first administrator accepts the setup link and enrols TOTP (codes computed here);
//   2. on "Passkeys and security" registers a passkey named "Work phone" with the password, so
//      it can unlock (record 0x11 made from the PRF output); the list shows it;
//   3. signs out and signs in with "Sign in with a passkey" alone: no email, no password, the
//      keys unlocked by the passkey's PRF output (the cases page shows);
//   4. reloads (the keys are gone from memory) and unlocks with "Unlock with a passkey";
//   5. signs out, signs in with the password and the passkey as the second step;
//   6. signs out, signs in with the password and falls back to a TOTP code;
//   7. renames the passkey, removes it; the authenticator still holds the credential, and a
//      sign-in with it is refused; the password step now asks for a TOTP code;
//   8. as administrator, requires passkeys of everyone in the organisation; the next sign-in
//      (password, TOTP) must add a passkey before it finishes, and the one after offers the
//      passkey only (no security-code fallback);
//   9. under the requirement, a lost passkey: "Use a recovery code" (an empty and a wrong code
//      refused with their messages, then one of the codes saved in step 1); the same code a
//      second time is refused, and "Use your passkey instead" finishes with the passkey;
//  10. the administrator invites a records officer into the organisation; in a second phone
//      context with its own virtual authenticator, accepting the invite goes through the
//      recovery key and the authenticator app, then must add a passkey (it can unlock) before
//      the account is signed in; the officer then signs in with that passkey alone;
//  11. the officer's phone is gone; a roaming security key WITHOUT PRF (USB, not discoverable)
//      is added with the password: it is listed as a second step only (it cannot unlock), and
//      signing in with the password and that key works, the password unlocking the keys.
// The virtual authenticator's own credential records are checked too (one credential, its sign
// counter moved). Every page state is checked with axe-core (no serious/critical violation),
// for 24x24 px touch targets and for console errors. Screenshots: test-results/e2e-passkeys/.
// Exit 1 on failure.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessibilityProblems, launchChromium, nowStep, startServer, totp } from "./e2e-lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const outDir = join(root, "test-results", "e2e-passkeys");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const { server, dataDir, setupLink, output } = await startServer({ repo, staticDir: join(root, "dist"), prefix: "dermline-e2e-passkeys-" });
// The setup link names 127.0.0.1; passkeys need a host name (the relying party id).
const link = setupLink.replace("://127.0.0.1:", "://localhost:");
const origin = new URL(link).origin;
const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, serviceWorkers: "block" });
const page = await context.newPage();
const problems = [];
page.on("console", (m) => {
  // Expected: 401/403 while signing in and the refused sign-in of step 7; anything else fails.
  if (m.type() === "error" && !/status of 40[13]/.test(m.text())) problems.push(`console error: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

let shot = 0;
async function check(name) {
  problems.push(...(await accessibilityProblems(page, name)));
  shot += 1;
  await page.screenshot({ path: join(outDir, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  console.log(`ok   ${name}`);
}

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

const email = "admin@example.nhs.uk";
const password = "a long and unguessable passphrase";
let lastStep = 0;
/** A TOTP code of a time step not used yet (a code never works twice). */
async function freshCode(secret) {
  while (nowStep() <= lastStep) await page.waitForTimeout(1000);
  lastStep = nowStep();
  return totp(secret, lastStep);
}

async function signOut() {
  await page.goto(`${origin}/#/cases`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
}

async function passwordStep() {
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Continue" }).click();
}

try {
  // The virtual authenticator: a phone's platform authenticator with biometrics and PRF.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      hasPrf: true,
      automaticPresenceSimulation: true,
    },
  });

  // 1. The first administrator.
  await page.goto(link);
  await page.getByLabel("Email address").waitFor();
  await page.getByLabel("Email address").fill(email);
  await page.getByLabel("Full name").fill("Ada Admin");
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Enter the password again").fill(password);
  await page.getByRole("button", { name: "Continue" }).click();
  const keyText = await page.getByTestId("recovery-key").innerText();
  const groups = keyText.replace(/Group \d+:/g, "").trim().split(/\s+/);
  const groupLabel = await page.locator("label[for=group]").innerText();
  await page.getByLabel(groupLabel).fill(groups[Number(/group (\d+)/.exec(groupLabel)[1]) - 1]);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByTestId("totp-key").waitFor({ timeout: 30000 });
  const secret = (await page.getByTestId("totp-key").innerText()).replace(/\s/g, "");
  await page.getByLabel("Security code").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  const recoveryCodes = (await page.getByRole("list", { name: "Recovery codes" }).innerText()).split(/\s+/).filter(Boolean);
  expect(recoveryCodes.length >= 8 && recoveryCodes.every((c) => /^[a-z0-9]{5}-[a-z0-9]{5}$/.test(c)), "recovery codes shown");
  await page.getByRole("button", { name: "I have saved my recovery codes" }).click();
  await page.getByTestId("signed-in").waitFor();
  await check("signed-in-with-totp");

  // 2. Register a passkey that can unlock.
  await page.getByTestId("security-link").click();
  await page.getByRole("heading", { name: "Passkeys and security" }).waitFor();
  await page.getByText("You have no passkeys yet.").waitFor();
  await check("security-empty");
  await page.getByRole("button", { name: "Add passkey" }).click(); // no name: the error summary
  await page.locator(".nhsuk-error-summary").waitFor();
  await check("security-name-missing");
  await page.getByLabel("Name for this passkey").fill("Work phone");
  await page.getByLabel("Your password (optional)").fill(password);
  await page.getByRole("button", { name: "Add passkey" }).click();
  await page.getByText("Passkey “Work phone” added. It can also unlock Dermline on this device.").waitFor({ timeout: 30000 });
  await page.getByTestId("passkey").waitFor();
  expect((await page.getByTestId("passkey").count()) === 1, "one passkey listed");
  expect((await page.getByTestId("passkey").innerText()).includes("Can unlock Dermline without your password"), "the passkey unlocks");
  await check("security-passkey-added");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials.length === 1 && credentials[0].isResidentCredential && credentials[0].rpId === "localhost", "one resident credential for localhost");

  // 3. Sign out; sign in with the passkey alone: no email, no password; keys unlocked by PRF.
  await signOut();
  await check("login-with-passkey-option");
  const t0 = Date.now();
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  console.log(`     signed in and unlocked with the passkey alone, ${Date.now() - t0} ms`);
  await check("signed-in-with-passkey-alone");

  // 4. A reload drops the keys; unlock them with the passkey.
  // (Reloaded at #/unlock: a hash change made right after a reload can land before the
  // app listens for it.)
  await page.goto(`${origin}/#/unlock`);
  await page.reload();
  await page.getByRole("button", { name: "Unlock with a passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await check("unlocked-with-passkey");

  // 5. Password, then the passkey as the second step.
  await signOut();
  await passwordStep();
  await page.getByRole("heading", { name: "Use your passkey" }).waitFor({ timeout: 30000 });
  await check("second-step-passkey");
  await page.getByRole("button", { name: "Continue with passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await check("signed-in-password-and-passkey");

  // 6. Password, then the TOTP fallback.
  await signOut();
  await passwordStep();
  await page.getByRole("button", { name: "Use a security code instead" }).click();
  await page.getByLabel("Security code").fill(await freshCode(secret));
  await check("second-step-totp-fallback");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });

  // 7. Rename, then remove the passkey; a sign-in with the authenticator's credential is refused.
  await page.getByTestId("security-link").click();
  await page.getByRole("button", { name: "Rename Work phone" }).click();
  await page.getByLabel("New name for Work phone").fill("Old phone");
  await page.getByRole("button", { name: "Save name" }).click();
  await page.getByText("Passkey renamed to “Old phone”.").waitFor();
  const listed = await page.getByTestId("passkey").innerText();
  expect(/Last used/.test(listed), "the last use is shown");
  await check("security-renamed");
  await page.getByRole("button", { name: "Remove Old phone" }).click();
  await check("security-remove-confirm");
  await page.getByRole("button", { name: "Yes, remove Old phone" }).click();
  await page.getByText("You have no passkeys yet.").waitFor();
  await check("security-removed");
  await signOut();
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await page.locator(".nhsuk-error-summary").getByText("Dermline could not accept this passkey").waitFor({ timeout: 30000 });
  await check("removed-passkey-refused");
  await passwordStep();
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  expect((await page.getByRole("heading", { name: "Enter your security code" }).count()) === 1, "TOTP asked after removal");
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(after.credentials.length === 1 && after.credentials[0].signCount >= 4, "the authenticator's counter moved with each use");

  // 8. The organisation's requirement and the transition.
  await page.getByLabel("Security code").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("admin-entry").click();
  await page.getByTestId("admin-orgs").getByRole("link").first().click();
  await page.getByTestId("passkey-policy-link").click();
  await page.getByLabel("Everyone in this organisation").check();
  await check("admin-passkey-requirement");
  await page.getByRole("button", { name: "Save requirement" }).click();
  await page.getByText("Everyone in this organisation must now use a passkey.").waitFor();
  await signOut();
  await passwordStep();
  await page.getByLabel("Security code").fill(await freshCode(secret));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Add a passkey to finish signing in" }).waitFor({ timeout: 30000 });
  await check("required-passkey-enrol");
  await page.getByLabel("Name for this passkey").fill("Clinic phone");
  await page.getByRole("button", { name: "Add passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await signOut();
  await passwordStep();
  await page.getByRole("heading", { name: "Use your passkey" }).waitFor({ timeout: 30000 });
  expect((await page.getByRole("button", { name: "Use a security code instead" }).count()) === 0, "no TOTP fallback under the requirement");
  await check("second-step-passkey-only");
  await page.getByRole("button", { name: "Continue with passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  // The passkey added at the required enrolment can unlock too (its wrap was made then).
  await page.getByTestId("security-link").click();
  await page.getByTestId("passkey").waitFor();
  expect((await page.getByTestId("passkey").innerText()).includes("Can unlock Dermline without your password"), "the enrolled passkey unlocks");

  // 9. A lost passkey under the requirement: a recovery code instead.
  await signOut();
  await passwordStep();
  await page.getByRole("heading", { name: "Use your passkey" }).waitFor({ timeout: 30000 });
  await page.getByRole("button", { name: "Use a recovery code" }).click();
  await page.getByRole("heading", { name: "Enter a recovery code" }).waitFor();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".nhsuk-error-summary").getByText("Enter one of your recovery codes").waitFor();
  await check("recovery-code-missing");
  await page.getByLabel("Recovery code").fill("zzzzz-zzzzz"); // not one of them
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".nhsuk-error-summary").getByText("The recovery code is not right or has already been used").waitFor({ timeout: 30000 });
  await check("recovery-code-wrong");
  await page.getByLabel("Recovery code").fill(recoveryCodes[0].toUpperCase()); // case does not matter
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await check("signed-in-with-recovery-code");
  await signOut();
  await passwordStep();
  await page.getByRole("button", { name: "Use a recovery code" }).click();
  await page.getByLabel("Recovery code").fill(recoveryCodes[0]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".nhsuk-error-summary").getByText("The recovery code is not right or has already been used").waitFor({ timeout: 30000 });
  await page.getByRole("button", { name: "Use your passkey instead" }).click();
  await page.getByRole("button", { name: "Continue with passkey" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  console.log("ok   recovery code instead of the required passkey; used once only");

  // 10. Accepting an invite into the organisation that requires passkeys.
  await page.getByTestId("admin-entry").click();
  await page.getByTestId("admin-orgs").getByRole("link").first().click();
  await page.getByRole("button", { name: "Invite a person" }).click();
  await page.getByLabel(/^Records officer:/).check();
  await page.getByRole("button", { name: "Create invitation link" }).click();
  await page.getByTestId("invite-created").waitFor();
  const inviteLink = await page.getByLabel("Invitation link").inputValue();
  expect(inviteLink.startsWith(`${origin}/#/invite/`), "the invite link names this origin");
  const other = await browser.newContext({ viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, serviceWorkers: "block" });
  const officer = await other.newPage();
  officer.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[13]/.test(m.text())) problems.push(`officer: console error: ${m.text()}`);
  });
  officer.on("pageerror", (e) => problems.push(`officer: page error: ${e.message}`));
  const cdp2 = await other.newCDPSession(officer);
  await cdp2.send("WebAuthn.enable");
  const second = await cdp2.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, hasPrf: true, automaticPresenceSimulation: true },
  });
  const officerPassword = "the records officer's own passphrase";
  await officer.goto(inviteLink);
  await officer.getByLabel("Email address").waitFor();
  await officer.getByLabel("Email address").fill("records@example.nhs.uk");
  await officer.getByLabel("Full name").fill("Rhea Records");
  await officer.getByLabel("Password", { exact: true }).fill(officerPassword);
  await officer.getByLabel("Enter the password again").fill(officerPassword);
  await officer.getByRole("button", { name: "Continue" }).click();
  const officerKey = await officer.getByTestId("recovery-key").innerText();
  const officerGroups = officerKey.replace(/Group \d+:/g, "").trim().split(/\s+/);
  const officerLabel = await officer.locator("label[for=group]").innerText();
  await officer.getByLabel(officerLabel).fill(officerGroups[Number(/group (\d+)/.exec(officerLabel)[1]) - 1]);
  await officer.getByRole("button", { name: "Create account" }).click();
  await officer.getByTestId("totp-key").waitFor({ timeout: 30000 });
  const officerSecret = (await officer.getByTestId("totp-key").innerText()).replace(/\s/g, "");
  await officer.getByLabel("Security code").fill(totp(officerSecret, nowStep()));
  await officer.getByRole("button", { name: "Confirm" }).click();
  await officer.getByRole("button", { name: "I have saved my recovery codes" }).click();
  await officer.getByRole("heading", { name: "Add a passkey to finish signing in" }).waitFor({ timeout: 30000 });
  expect((await officer.getByTestId("signed-in").count()) === 0, "not signed in before the passkey");
  problems.push(...(await accessibilityProblems(officer, "invite-required-passkey")));
  await officer.screenshot({ path: join(outDir, "invite-required-passkey.png"), fullPage: true });
  await officer.getByLabel("Name for this passkey").fill("Records phone");
  await officer.getByRole("button", { name: "Add passkey" }).click();
  await officer.getByTestId("signed-in").waitFor({ timeout: 30000 });
  await officer.getByTestId("security-link").click();
  await officer.getByTestId("passkey").waitFor();
  expect((await officer.getByTestId("passkey").innerText()).includes("Records phone"), "the invite's passkey is listed");
  expect((await officer.getByTestId("passkey").innerText()).includes("Can unlock Dermline without your password"), "the invite's passkey unlocks");
  const officerCreds = await cdp2.send("WebAuthn.getCredentials", { authenticatorId: second.authenticatorId });
  expect(officerCreds.credentials.length === 1, "one credential on the officer's phone");
  await officer.goto(`${origin}/#/cases`);
  await officer.getByRole("button", { name: "Sign out" }).click();
  await officer.getByRole("button", { name: "Sign in with a passkey" }).click();
  await officer.getByTestId("signed-in").waitFor({ timeout: 30000 });
  problems.push(...(await accessibilityProblems(officer, "invitee-signed-in-with-passkey")));
  console.log("ok   an invite into an organisation that requires passkeys ends with a passkey that signs in and unlocks");

  // 11. A security key without PRF: a second factor only.
  await cdp2.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: second.authenticatorId });
  const key = await cdp2.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: true, isUserVerified: true, hasPrf: false, automaticPresenceSimulation: true },
  });
  await officer.getByTestId("security-link").click();
  await officer.getByRole("heading", { name: "Passkeys and security" }).waitFor();
  await officer.getByLabel("Name for this passkey").fill("Security key");
  await officer.getByLabel("Your password (optional)").fill(officerPassword);
  await officer.getByRole("button", { name: "Add passkey" }).click();
  await officer.getByText("Passkey “Security key” added. This passkey cannot unlock Dermline, so you will still need your password to unlock.").waitFor({ timeout: 30000 });
  const keyRow = officer.getByTestId("passkey").filter({ hasText: "Security key" });
  expect((await keyRow.innerText()).includes("Second step of sign-in only"), "the key without PRF cannot unlock");
  problems.push(...(await accessibilityProblems(officer, "security-key-without-prf")));
  await officer.screenshot({ path: join(outDir, "security-key-without-prf.png"), fullPage: true });
  await officer.goto(`${origin}/#/cases`);
  await officer.getByRole("button", { name: "Sign out" }).click();
  await officer.getByLabel("Email address").fill("records@example.nhs.uk");
  await officer.getByLabel("Password", { exact: true }).fill(officerPassword);
  await officer.getByRole("button", { name: "Continue" }).click();
  await officer.getByRole("heading", { name: "Use your passkey" }).waitFor({ timeout: 30000 });
  await officer.getByRole("button", { name: "Continue with passkey" }).click();
  await officer.getByTestId("signed-in").waitFor({ timeout: 30000 });
  const keyCreds = await cdp2.send("WebAuthn.getCredentials", { authenticatorId: key.authenticatorId });
  expect(keyCreds.credentials.length === 1 && !keyCreds.credentials[0].isResidentCredential && keyCreds.credentials[0].signCount >= 2, "the security key signed twice");
  console.log("ok   a roaming security key without PRF is a second factor; the password unlocks");
  await other.close();
} catch (e) {
  problems.push(`failed: ${e.stack ?? e}`);
  await page.screenshot({ path: join(outDir, "failure.png"), fullPage: true }).catch(() => undefined);
} finally {
  writeFileSync(join(outDir, "server-output.txt"), output());
  await browser.close();
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("e2e-passkeys: all checks passed");
