// Subresource Integrity in a real browser (run: `node scripts/e2e-sri.mjs`, after `npm run build`;
// needs ../.venv). It starts a fresh server (temporary data dir, random port, serving dist/), then
// in headless Chromium:
//   1. loads the start page with the service worker allowed: the scripts and the stylesheet come
//      as the server's pre-compressed copies (Content-Encoding br or gzip) and the page runs, so
//      the hashes (of the decoded bytes, vite.config.ts `subresourceIntegrity`) hold; every
//      script, stylesheet and module preload in the page carries one;
//   2. reloads under the service worker's control: the assets now come from its cache
//      (client_web/public/sw.js) and still pass their checks;
//   3. in a fresh context, alters one byte of the entry script on the wire: Chromium refuses it
//      ("integrity") and the page does not start; alters the QR code chunk that the code loads
//      with import(): its module preload is refused and so is the later import().
// Exit code 1 on any failure; the server's output goes to test-results/e2e-sri/server.log.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, startServer } from "./e2e-lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const outDir = join(root, "test-results", "e2e-sri");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const { server, dataDir, setupLink, output } = await startServer({ repo, staticDir: join(root, "dist"), prefix: "dermline-e2e-sri-" });
const origin = new URL(setupLink).origin;
const browser = await launchChromium();
const problems = [];
const started = (pg) => pg.waitForFunction(() => (document.getElementById("app")?.children.length ?? 0) > 0, null, { timeout: 15000 });
const checkedTags = () =>
  [...document.querySelectorAll("script[src], link[rel=stylesheet], link[rel=modulepreload]")].map((e) => ({
    url: e.getAttribute("src") ?? e.getAttribute("href"),
    integrity: e.getAttribute("integrity") ?? "",
  }));

try {
  // 1. Compressed copies, checked.
  const context = await browser.newContext({ serviceWorkers: "allow" });
  const page = await context.newPage();
  const errors = [];
  // Expected: 401 from the session check of a signed-out start page.
  page.on("console", (m) => m.type() === "error" && !/status of 401/.test(m.text()) && errors.push(m.text()));
  const encodings = new Map();
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith("/assets/")) encodings.set(path, { encoding: r.headers()["content-encoding"] ?? "", sw: r.fromServiceWorker() });
  });
  await page.goto(`${origin}/`);
  await started(page);
  const tags = await page.evaluate(checkedTags);
  if (tags.length < 3) throw new Error(`only ${tags.length} checked tags in the page`);
  for (const t of tags) if (!t.integrity.startsWith("sha384-")) problems.push(`${t.url}: no integrity attribute`);
  const entry = tags.find((t) => t.url.endsWith(".js") && !t.url.includes("esm-") && !t.url.includes("external"));
  const first = encodings.get(entry.url);
  if (!first || !["br", "gzip"].includes(first.encoding)) problems.push(`${entry.url}: not sent pre-compressed (${JSON.stringify(first)})`);
  else console.log(`ok   the page ran with its scripts checked, sent as ${first.encoding}`);

  // 2. Under the service worker.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15000 }).catch(async () => {
    await page.reload(); // the first load is not controlled until the worker claims it
  });
  encodings.clear();
  await page.reload();
  await started(page);
  const again = encodings.get(entry.url);
  if (!again?.sw) problems.push(`${entry.url}: not served by the service worker on reload (${JSON.stringify(again)})`);
  else console.log("ok   the page ran again with its scripts from the service worker's cache, checked");
  for (const e of errors) problems.push(`console error: ${e}`);
  await context.close();

  // 3. One byte altered on the wire: refused.
  const tampered = await browser.newContext({ serviceWorkers: "block" });
  const bad = await tampered.newPage();
  const refusals = [];
  bad.on("console", (m) => m.type() === "error" && /integrity/i.test(m.text()) && refusals.push(m.text()));
  const alter = async (route) => {
    const response = await route.fetch();
    const body = Buffer.from(await response.body());
    body[body.length - 1] ^= 0x01; // the last byte (a newline or a semicolon)
    await route.fulfill({ response, body, headers: { ...response.headers(), "content-encoding": "identity" } });
  };
  await bad.route(`**${entry.url}`, alter);
  await bad.goto(`${origin}/`);
  const ran = await started(bad).then(() => true, () => false);
  if (ran) problems.push("an altered entry script ran");
  else if (refusals.length === 0) problems.push("the altered entry script did not run, but no integrity refusal was reported");
  else console.log("ok   an altered entry script is refused (integrity) and the page does not start");

  const lazy = tags.find((t) => t.url.includes("/esm-"));
  if (!lazy) throw new Error("no preloaded QR code chunk in the page");
  const lazyPage = await tampered.newPage();
  const lazyRefusals = [];
  lazyPage.on("console", (m) => m.type() === "error" && /integrity/i.test(m.text()) && lazyRefusals.push(m.text()));
  await lazyPage.route(`**${lazy.url}`, alter);
  await lazyPage.goto(`${origin}/`);
  await started(lazyPage);
  const imported = await lazyPage.evaluate((url) => import(url).then(() => "imported", () => "refused"), lazy.url);
  if (imported !== "refused" || lazyRefusals.length === 0) problems.push(`an altered lazily imported chunk was ${imported}`);
  else console.log("ok   an altered chunk loaded with import() is refused (its module preload carries the hash)");
  await tampered.close();
} catch (e) {
  problems.push(`flow failed: ${e.message}`);
} finally {
  writeFileSync(join(outDir, "server.log"), output());
  await browser.close();
  server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : "Subresource Integrity holds in Chromium");
process.exit(problems.length ? 1 : 0);
