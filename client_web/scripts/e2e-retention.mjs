// End-to-end check of RECORDS RETENTION in the browser against a LIVE Dermline server (run:
// `node scripts/e2e-retention.mjs`, after `npm run build`; needs ../.venv). It starts a fresh
// server (temporary data dir, random port, serving dist/), then:
//   1. with the Python client (scripts/e2e_retention.py setup): the first administrator, a
//      practice, a service, a GP, a dermatologist and the practice's records officer; a case
//      of an adult patient is opened, claimed and closed with its retention date;
//   2. the records officer signs in on a phone (360x640); the case list offers "Records
//      retention and legal holds" (not administration), which lists the practice;
//   3. the minimum retention period: an empty and a malformed value are refused with their
//      messages, 10 years is saved;
//   4. the case is found by pasting the address of its page: closed, the retention date the
//      closing client sent (31 December), disposal from the organisation's minimum;
//   5. a legal hold without a reason is refused; with "A complaint" and a reference it is
//      placed and listed; the server (Python client, as the officer) has the hold with that
//      reason and reference, the 10-year minimum and the basis organisation_minimum;
//   6. the hold is released from the list after a confirmation; the server has no hold left.
// Every page state is checked with axe-core (no serious/critical violation), for 24x24 px touch
// targets and for console errors (the page with a hold also at 1280x800). Screenshots: test-results/e2e-retention/. Exit 1 on failure.
import { join } from "node:path";
import { accessibilityProblems, nowStep, startRun, totp } from "./e2e-lib.mjs";

const run = await startRun({ name: "e2e-retention", helper: "e2e_retention.py" });
const { origin, token, browser, problems, outDir, py } = run;
let shot = 0;

function expect(condition, what) {
  if (!condition) throw new Error(`expected: ${what}`);
}

try {
  const world = JSON.parse(py("setup", origin, token));
  const officer = world.officer;
  const context = await browser.newContext({ viewport: { width: 360, height: 640 }, isMobile: true, hasTouch: true, serviceWorkers: "block" });
  const page = await context.newPage();
  page.on("console", (m) => {
    // Expected: 401 while signing in; anything else (a CSP violation, an exception) fails.
    if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  const check = async (name) => {
    problems.push(...(await accessibilityProblems(page, name)));
    shot += 1;
    await page.screenshot({ path: join(outDir, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
    console.log(`ok   ${name}`);
  };
  const summaryHas = (text) => page.locator(".nhsuk-error-summary").getByText(text).waitFor({ timeout: 30000 });

  // 2. The records officer signs in; the way in is the records entry, not administration.
  await page.goto(`${origin}/#/login`);
  await page.getByLabel("Email address").fill(officer.login);
  await page.getByLabel("Password").fill(officer.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  await page.getByLabel("Security code").fill(totp(officer.secret, Math.max(nowStep(), officer.step) + 1));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  const entry = page.getByTestId("admin-entry");
  expect((await entry.innerText()).includes("Records retention and legal holds"), "the records entry, not administration");
  await entry.click();
  await page.getByRole("heading", { name: "Records retention", exact: true }).waitFor();
  expect((await page.getByRole("link", { name: "Create a GP practice" }).count()) === 0, "no administration offered");
  await check("records-home");
  await page.getByTestId("records-orgs").getByRole("link", { name: "Elm Surgery" }).click();
  await page.getByRole("heading", { name: "Records retention: Elm Surgery" }).waitFor();
  await page.getByTestId("holds-empty").waitFor();
  await page.getByTestId("records-minimum").getByText("No minimum is set").waitFor();
  await check("records-page");

  // 3. The organisation's minimum.
  const years = page.getByLabel("Minimum years after a case closes");
  await years.fill("");
  await page.getByRole("button", { name: "Save minimum" }).click();
  await summaryHas("Enter the minimum number of years, from 0 to 100");
  await check("minimum-missing");
  await years.fill("ten");
  await page.getByRole("button", { name: "Save minimum" }).click();
  await summaryHas("The minimum must be a whole number of years, like 10");
  await years.fill("10");
  await page.getByRole("button", { name: "Save minimum" }).click();
  await page.getByTestId("records-status").getByText("Cases of this organisation are now kept at least 10 years after they close.").waitFor();
  await check("minimum-saved");

  // 4. The case, found by the address of its page.
  await page.getByLabel("Case reference").fill("not a case");
  await page.getByRole("button", { name: "Find case" }).click();
  await summaryHas("Enter the case reference");
  await page.getByLabel("Case reference").fill(`${origin}/#/cases/${world.case_id}`);
  await page.getByRole("button", { name: "Find case" }).click();
  const found = page.getByTestId("case-retention");
  await found.waitFor({ timeout: 30000 });
  const foundText = await found.innerText();
  const year = new Date().getUTCFullYear();
  expect(foundText.includes(world.case_id) && foundText.includes("Closed"), "the case is closed");
  expect(foundText.includes(`31 December ${year + 8}`), `the client's date, 31 December ${year + 8} (an adult)`);
  expect(foundText.includes("This organisation's minimum retention period"), "disposal from the organisation's minimum");
  await check("case-found");

  // 5. A legal hold.
  await page.getByRole("button", { name: "Place legal hold" }).click();
  await summaryHas("Select why the case must be kept");
  await check("hold-reason-missing");
  await page.getByLabel("A complaint").check();
  await page.getByLabel("Your reference (optional)").fill("CMP-2026-0042");
  await page.getByRole("button", { name: "Place legal hold" }).click();
  await page.getByTestId("records-status").getByText("is on legal hold").waitFor({ timeout: 30000 });
  const row = page.getByTestId("hold");
  expect((await row.count()) === 1, "one hold listed");
  const rowText = await row.innerText();
  expect(rowText.includes(world.case_id) && rowText.includes("A complaint") && rowText.includes("CMP-2026-0042") && rowText.includes("by you"), "the hold's row");
  expect((await found.innerText()).includes("A complaint, since"), "the case shows its hold");
  await check("hold-placed");
  await page.setViewportSize({ width: 1280, height: 800 }); // the desktop layout too (a table)
  await check("hold-placed-desktop");
  await page.setViewportSize({ width: 360, height: 640 });
  const held = JSON.parse(py("check", origin, JSON.stringify({ ...world, use_code: 0 })));
  expect(held.minimum.min_years === 10, "the server has the 10-year minimum");
  expect(held.case.basis === "organisation_minimum" && held.case.retain_until === `${year + 8}-12-31`, "the server's basis and the client's date");
  expect(held.case.legal_hold?.reason === "complaint" && held.case.legal_hold?.reference === "CMP-2026-0042", "the server has the hold");
  expect(held.holds.length === 1 && held.holds[0].case_id === world.case_id, "the server lists the hold");
  console.log("ok   minimum and hold are on the server as the page showed them");

  // 6. Release it from the list, after a confirmation.
  await row.getByRole("button", { name: `Release the hold on case ${world.case_id}` }).click();
  await page.getByTestId("release-confirm").waitFor();
  await check("release-confirm");
  await page.getByRole("button", { name: "Yes, release the hold" }).click();
  await page.getByTestId("records-status").getByText("is released").waitFor({ timeout: 30000 });
  await page.getByTestId("holds-empty").waitFor();
  await check("hold-released");
  const released = JSON.parse(py("check", origin, JSON.stringify({ ...world, use_code: 1 })));
  expect(released.case.legal_hold === null && released.holds.length === 0, "no hold left on the server");
  console.log("ok   the hold released in the browser is gone from the server");
  await context.close();
} catch (e) {
  await run.failed(e, e.stack ?? e);
} finally {
  await run.stop();
}
run.report("records retention passes end to end");
