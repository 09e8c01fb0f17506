// A removal and the new key epoch made in the browser, against a LIVE Dermline server (run:
// `node scripts/e2e-epochs.mjs`, after `npm run build`; needs ../.venv). It starts a fresh
// server, then:
//   1. with the Python client (scripts/e2e_epochs.py setup): a practice with a records key, a
//      service, a GP and two dermatologists; the GP opens a case addressed to both; Dr One
//      claims it;
//   2. the GP signs in in headless Chromium on a phone (360x640), opens the case, opens
//      "People in this case", presses "Remove from case" for Dr Two and confirms; the page then
//      secures the conversation by itself (a fresh key for epoch 1, wrapped in the browser to
//      the GP, Dr One and the practice records key: docs/protocol.md section 24) and the GP
//      sends a message, sealed at epoch 1;
//   3. with the Python client (scripts/e2e_epochs.py check): the case is at epoch 1 with no
//      rotation pending; Dr One decrypts the GP's message with the epoch-1 key (the server took
//      the epoch only with a wrap for the records key too); Dr Two is refused the case and, with
//      the real private key, opens no epoch-1 wrap.
// Every page state is checked with axe-core and for 24x24 px touch targets; screenshots in
// test-results/e2e-epochs/. Exit 1 on failure.
import { signIn, startRun } from "./e2e-lib.mjs";

const run = await startRun({ name: "e2e-epochs", helper: "e2e_epochs.py", pyTimeout: 180000 });
const { origin, token, browser, problems, check, py } = run;

try {
  const world = JSON.parse(py("setup", origin, token));
  const gp = world.gp;
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  await signIn(page, origin, gp);
  await page.evaluate((id) => (location.hash = `#/cases/${id}`), world.case_id);
  await page.getByTestId("clinical-history").waitFor({ timeout: 30000 });

  await page.getByText("People in this case and their security keys").click();
  // Dr One claimed the case (the responder): only Dr Two can be taken off.
  if ((await page.getByRole("button", { name: /^Remove from case/ }).count()) !== 1) throw new Error("expected exactly one Remove from case action");
  await page.getByRole("button", { name: /^Remove from case.*Dr Two/ }).click();
  await page.getByTestId("remove-confirm").waitFor();
  await check(page, "remove-confirm");
  await page.getByRole("button", { name: "Remove Dr Two from this case" }).click();
  // The page makes epoch 1 itself, then shows the case without Dr Two.
  await page.waitForFunction(() => ![...document.querySelectorAll("[data-testid=case-person]")].some((li) => li.textContent.includes("Dr Two")), null, { timeout: 30000 });
  await page.getByTestId("securing").waitFor({ state: "detached", timeout: 30000 });
  if ((await page.getByTestId("secure-error").count()) !== 0) throw new Error(`securing failed: ${await page.getByTestId("secure-error").textContent()}`);
  await check(page, "after-removal");
  console.log("ok   the GP took Dr Two off the case; the browser made the next key epoch");

  await page.locator("#reply").fill("After the removal: only Dr One can read this.");
  await page.getByRole("button", { name: "Send message" }).click();
  await page.getByTestId("message-text").filter({ hasText: "After the removal" }).waitFor({ timeout: 30000 });
  await check(page, "sent-at-epoch-1");
  const answer = py("check", origin, JSON.stringify(world));
  if (answer !== "ok") throw new Error(`the check failed: ${answer}`);
  console.log("ok   Dr One reads the epoch-1 message (the server took the epoch with a records-key wrap); Dr Two, with the real key, opens nothing");
  await context.close();
} catch (e) {
  await run.failed(e);
} finally {
  await run.stop();
}
run.report("removal and the new key epoch pass end to end");
