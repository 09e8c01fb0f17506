// Shared pieces of the end-to-end scripts: TOTP codes computed by the test, a real Dermline
// server on a free port with a fresh data folder (the setup link read from its output), and
// Debian's Chromium launched with the flags this machine needs; and the frame of the scripts
// whose world is set up by a Python helper (`startRun`, `signIn`).
import { execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { touchTargetProblems } from "./checks.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * What the page in its current state fails, one line each, prefixed with `name`: serious or
 * critical axe-core violations (WCAG 2.0-2.2 A and AA) and touch targets under 24x24 CSS px.
 */
export async function accessibilityProblems(pg, name) {
  await pg.evaluate(axeSource);
  const r = await pg.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } }),
  );
  const out = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => `${name}: axe ${v.impact} ${v.id}`);
  for (const t of await pg.evaluate(touchTargetProblems)) out.push(`${name}: ${t}`);
  return out;
}

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
export function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const o = mac[19] & 15;
  const n = ((mac[o] & 0x7f) << 24) | (mac[o + 1] << 16) | (mac[o + 2] << 8) | mac[o + 3];
  return String(n % 1_000_000).padStart(6, "0");
}

export const nowStep = () => Math.floor(Date.now() / 1000 / 30);

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start `dermline serve` (or, with `harness`, the malicious-server harness around the same app)
 * on a fresh data folder and a free port, serving the built client.
 * Resolves once the server is listening and has printed its first-admin setup link.
 * `output()` returns everything the server printed so far (for log checks and artifacts).
 * `env`: extra DERMLINE_* settings for this run.
 */
export async function startServer({ repo, staticDir, prefix, env = {}, harness = false }) {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const where = ["--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port)];
  // `harness`: the real app behind the test-only malicious-server layer (tests/harness/README.md).
  const server = spawn(
    join(repo, ".venv", "bin", harness ? "python" : "dermline"),
    harness ? ["-m", "tests.harness.serve", ...where] : ["serve", ...where],
    {
      cwd: repo,
      env: { ...process.env, DERMLINE_STATIC_DIR: staticDir, DERMLINE_ARGON2_MEMORY_KIB: "8192", ...env, ...(harness ? { DERMLINE_HARNESS: "1" } : {}) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  server.stdout.on("data", (d) => (out += d));
  server.stderr.on("data", (d) => (out += d));
  const setupLink = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not print a setup link:\n${out}`)), 20000);
    const check = () => {
      const m = /(http:\/\/\S+\/#\/invite\/\S+)/.exec(out);
      if (m && out.includes("listening")) {
        clearTimeout(t);
        resolve(m[1]);
      } else setTimeout(check, 100);
    };
    check();
  });
  return { server, dataDir, setupLink, output: () => out };
}

/** Headless Debian Chromium with the flags this machine needs (it cannot download a browser). */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");

/**
 * The frame of an end-to-end script named `name` (e.g. "e2e-share") whose world the Python
 * helper `scripts/<helper>` sets up: a fresh results folder test-results/<name>/, a server
 * (`harness`: the malicious-server harness) serving dist/, and Chromium. Returns
 * `{ origin, token, browser, problems, outDir, check, py, failed, stop, report }`:
 * `py(...args)` runs the helper (`pyTimeout` ms at most) and returns what it printed;
 * `failed(e, text)` records the flow's failure and screenshots every open page; `stop()`
 * saves the server log and stops the browser and the server; `report(passed, notes)` prints
 * the notes, the problems and `passed` (if there were none) and exits 1 on any problem.
 */
export async function startRun({ name, helper, harness = false, pyTimeout = 120000 }) {
  const outDir = join(root, "test-results", name);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const { server, dataDir, setupLink, output } = await startServer({ repo, staticDir: join(root, "dist"), prefix: `dermline-${name}-`, harness });
  const browser = await launchChromium();
  const problems = [];
  const python = join(repo, ".venv", "bin", "python");
  const helperPath = join(root, "scripts", helper);
  return {
    origin: new URL(setupLink).origin,
    token: new URL(setupLink).hash.split("/").pop(),
    browser,
    problems,
    outDir,
    /** Record what page `pg` fails (`accessibilityProblems`) and save it as <name>.png. */
    async check(pg, shot) {
      problems.push(...(await accessibilityProblems(pg, shot)));
      await pg.screenshot({ path: join(outDir, `${shot}.png`), fullPage: true });
    },
    py: (...args) => execFileSync(python, [helperPath, ...args], { cwd: repo, encoding: "utf8", timeout: pyTimeout }).trim(),
    async failed(e, text = e.message) {
      problems.push(`flow failed: ${text}`);
      for (const [i, pg] of browser.contexts().flatMap((c) => c.pages()).entries()) {
        await pg.screenshot({ path: join(outDir, `failure-${i + 1}.png`), fullPage: true }).catch(() => undefined);
      }
    },
    async stop() {
      writeFileSync(join(outDir, "server.log"), output());
      await browser.close();
      server.kill("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
    report(passed, notes = []) {
      for (const k of notes) console.log(`note ${k}`);
      for (const p of problems) console.log(`FAIL ${p}`);
      console.log(problems.length ? `${problems.length} problem(s)` : passed);
      process.exit(problems.length ? 1 : 0);
    },
  };
}

/**
 * Sign `creds` (a helper's `login`, `password`, TOTP `secret` and enrolment `step`) in on
 * `page`, with the code of a TOTP step not yet used, submitted with Enter.
 */
export async function signIn(page, origin, creds) {
  await page.goto(`${origin}/#/login`);
  await page.getByLabel("Email address").fill(creds.login);
  await page.getByLabel("Password").fill(creds.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  await page.getByLabel("Security code").fill(totp(creds.secret, Math.max(nowStep(), creds.step) + 1));
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
}
