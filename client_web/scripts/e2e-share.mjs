// End-to-end check of SHARING THE CASE KEY in the browser against a LIVE Dermline server (run:
// `node scripts/e2e-share.mjs`, after `npm run build`; needs ../.venv). It starts a fresh server
// (temporary data dir, random port, serving dist/), then:
//   1. with the Python client (scripts/e2e_share.py setup): the first administrator, a practice
//      with a records key, a service, a GP and a dermatologist; the GP opens a case; a second
//      dermatologist joins the service afterwards, so lacks the case key;
//   2. the GP signs in in headless Chromium on a phone (360x640), opens the case (decrypted in
//      the browser) and sees "Share with 1 colleague who joined the service later"; pressing
//      it wraps the case key in the browser and posts it; the status message says it is shared
//      and the action is gone;
//   3. with the Python client (scripts/e2e_share.py check): the late dermatologist opens the
//      case key the browser wrapped, decrypts the clinical history and claims the case.
// Every page state is checked with axe-core (no serious/critical violation), for 24x24 px touch
// targets and for console errors. Screenshots: test-results/e2e-share/. Exit 1 on failure.
import { signIn, startRun } from "./e2e-lib.mjs";

const run = await startRun({ name: "e2e-share", helper: "e2e_share.py" });
const { origin, token, browser, problems, check, py } = run;
function watch(pg, who) {
  pg.on("console", (m) => {
    // Expected: 401 while signing in; anything else (a CSP violation, an exception) fails.
    if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push(`${who}: console error: ${m.text()}`);
  });
  pg.on("pageerror", (e) => problems.push(`${who}: page error: ${e.message}`));
}

try {
  const world = JSON.parse(py("setup", origin, token));
  const gp = world.gp;
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, serviceWorkers: "block" });
  const page = await context.newPage();
  watch(page, "gp");
  await signIn(page, origin, gp);
  await page.evaluate((id) => (location.hash = `#/cases/${id}`), world.case_id);
  const share = page.getByRole("button", { name: "Share with 1 colleague who joined the service later" });
  await share.waitFor({ timeout: 30000 });
  await page.getByText("Shared later: is this a melanoma?").waitFor({ timeout: 30000 });
  await check(page, "share-offered");
  await share.click();
  await page.getByText("Shared with 1 colleague. They can now open this case.").waitFor({ timeout: 30000 });
  if ((await page.getByRole("button", { name: /Share with/ }).count()) !== 0) throw new Error("the share action is still offered");
  await check(page, "share-done");
  console.log("ok   the GP shared the case key in the browser with the dermatologist who joined later");
  const answer = py("check", origin, JSON.stringify(world));
  if (answer !== "ok") throw new Error(`the late dermatologist could not read the case: ${answer}`);
  console.log("ok   the late dermatologist opened the wrap made in the browser, decrypted the history and claimed the case");
  await context.close();
} catch (e) {
  await run.failed(e);
} finally {
  await run.stop();
}
run.report("sharing the case key passes end to end");
