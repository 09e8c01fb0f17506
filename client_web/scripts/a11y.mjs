// Accessibility, CSP and layout check of the built app shell (run: `npm run check:a11y`,
// after `npm run build`). No live server needed: dist/ is served here with the strict CSP
// the Dermline server sends, and Debian's Chromium is driven headless by playwright-core.
//
// For every page and state, on a phone (360x640) and a desktop (1280x800) viewport:
// - axe-core (WCAG 2.0/2.1/2.2 A and AA rules, incl. target-size) must report no serious or
//   critical violation;
// - no CSP violation and no console error may occur;
// - nothing may overflow horizontally at 360 px;
// - every pointer target is at least 24x24 CSS px (WCAG 2.2 SC 2.5.8, scripts/checks.mjs);
// - after an invalid submission, the NHS.UK error summary has focus and links to each field;
// - a screenshot is saved to test-results/a11y/<page>-<viewport>.png.
// The API is stubbed with canned answers (page.route), so every UI state can be reached
// without a server; `npm run e2e` drives the same pages against a live server.
// Exit code 1 on any failure.
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { ADMIN_STATES } from "./a11y-admin.mjs";
import { PATIENT_STATES } from "./a11y-patient.mjs";
import { errorSummaryProblems, touchTargetProblems } from "./checks.mjs";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const outDir = join(root, "test-results", "a11y");
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// The CSP the server sends (server/ owns the real one; this mirrors DESIGN/brief: no inline
// script or style).
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'; form-action 'self'; manifest-src 'self'; worker-src 'self'";
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".webmanifest": "application/manifest+json",
};

if (!existsSync(join(dist, "index.html"))) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(2);
}

const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
  let file = join(dist, path === "/" ? "index.html" : path);
  if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) {
    res.writeHead(404, { "Content-Security-Policy": CSP });
    res.end("not found");
    return;
  }
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
  });
  createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

/** Each state: a name, a hash route and optional steps to reach it. */
const STATES = [
  { name: "start", route: "#/" },
  { name: "login", route: "#/login" },
  {
    name: "login-errors",
    route: "#/login",
    errors: true,
    steps: async (p) => {
      await p.getByRole("button", { name: "Continue" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  { name: "invite-details", route: "#/invite/abcdefgh12345678" },
  { name: "invite-invalid", route: "#/invite/usedusedused0000" },
  {
    name: "invite-password-errors",
    route: "#/invite/abcdefgh12345678",
    errors: true,
    steps: async (p) => {
      await p.getByLabel("Password", { exact: true }).fill("short");
      await p.getByRole("button", { name: "Continue" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  {
    name: "invite-recovery-key",
    route: "#/invite/abcdefgh12345678",
    steps: async (p) => {
      await p.getByLabel("Email address").fill("gp@example.nhs.uk");
      await p.getByLabel("Full name").fill("Dr Grace Practitioner");
      await p.getByLabel("Password", { exact: true }).fill("correct horse battery staple");
      await p.getByLabel("Enter the password again").fill("correct horse battery staple");
      await p.getByRole("button", { name: "Continue" }).click();
      await p.getByText("Write this down now").waitFor();
    },
  },
  { name: "unlock", route: "#/unlock" },
  {
    name: "unlock-errors",
    route: "#/unlock",
    errors: true,
    steps: async (p) => {
      await p.getByRole("button", { name: "Unlock" }).click();
      await p.getByText("There is a problem").waitFor();
    },
  },
  { name: "not-found", route: "#/no-such-page" },
  // Signed-in administration pages, with their own stubbed API (`api`): scripts/a11y-admin.mjs.
  ...ADMIN_STATES,
  // The patient's photo page (no account), with its own stubbed link check.
  ...PATIENT_STATES,
];
const VIEWPORTS = [
  { name: "phone", width: 360, height: 640 },
  { name: "desktop", width: 1280, height: 800 },
];

mkdirSync(outDir, { recursive: true });
let failures = 0;
for (const vp of VIEWPORTS) {
  const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, serviceWorkers: "block" });
  for (const st of STATES) {
    const page = await context.newPage();
    const problems = [];
    page.on("console", (m) => {
      if (m.type() === "error" && !/status of (410|503)/.test(m.text())) problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    await page.route("**/api/v1/**", (r) => {
      if (st.api) return st.api(r);
      const url = r.request().url();
      if (url.endsWith("/invites/inspect")) {
        const body = r.request().postDataJSON();
        if (body.token.startsWith("used")) {
          return r.fulfill({ status: 410, contentType: "application/json", body: JSON.stringify({ error: { code: "invite_invalid", message: "x" } }) });
        }
        return r.fulfill({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify({ org_id: "o1", org_name: "Riverside Surgery", org_kind: "practice", role: "gp", expires_at: "2026-12-01T00:00:00+00:00", login_name: null }),
        });
      }
      return r.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "internal", message: "x" } }) });
    });
    await page.goto(`${base}/${st.route}`);
    await page.locator("#maincontent h1").waitFor();
    if (st.steps) await st.steps(page);
    await page.evaluate(axeSource);
    const result = await page.evaluate(() =>
      // eslint-disable-next-line no-undef
      axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
      }),
    );
    for (const v of result.violations) {
      if (v.impact === "serious" || v.impact === "critical") {
        problems.push(`axe ${v.impact}: ${v.id} (${v.nodes.length} nodes): ${v.help}`);
      }
    }
    problems.push(...(await page.evaluate(touchTargetProblems)));
    if (st.errors) problems.push(...(await page.evaluate(errorSummaryProblems)));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 0) problems.push(`horizontal overflow of ${overflow}px`);
    await page.screenshot({ path: join(outDir, `${st.name}-${vp.name}.png`), fullPage: true });
    const minor = result.violations.filter((v) => v.impact !== "serious" && v.impact !== "critical").map((v) => v.id);
    console.log(`${problems.length ? "FAIL" : "ok  "} ${vp.name.padEnd(7)} ${st.name}${minor.length ? `  (minor: ${minor.join(", ")})` : ""}`);
    for (const p of problems) console.log(`       ${p}`);
    failures += problems.length;
    await page.close();
  }
  await context.close();
}
await browser.close();
server.close();
console.log(failures ? `${failures} problem(s)` : "all pages pass axe (no serious/critical), CSP and 360px layout");
process.exit(failures ? 1 : 0);
