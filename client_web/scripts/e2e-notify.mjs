// End-to-end check of NOTIFICATIONS and SIGN-IN THROTTLING in the browser against a LIVE
// Dermline server (run: `node scripts/e2e-notify.mjs`, after `npm run build`; needs ../.venv).
// It runs its own Web Push service on loopback (no public push service is reachable here),
// starts a fresh server that sends pushes only there and trusts X-Forwarded-For from
// 127.0.0.1 as production trusts its proxy, then:
//   1. (scripts/e2e_notify.py setup) an administrator, a practice, a service, two GPs and a
//      dermatologist; the GP opens a case, the dermatologist claims it;
//   2. the GP signs in (desktop), opens Notification settings, turns on notifications on
//      this device and the sound. Headless Chromium has no push service, so the page's
//      PushManager.subscribe is the one stub: it answers a subscription to the loopback
//      service with keys this script holds; everything after it is real (the server
//      stores it, encrypts to it, signs VAPID, POSTs to the loopback service);
//   3. the GP's tab is hidden (visibilityState forced and visibilitychange dispatched) and
//      the dermatologist asks a question (Python client): the tab title gains "(1)", the
//      live region and a browser Notification say "A new reply in one of your cases", and
//      the loopback service received a push that, decrypted here with node:crypto (RFC 8291
//      written apart from the server's), is exactly {v, title, body, n}: no case, no name;
//      visible again, the count goes;
//   4. the service worker's push handler: a push delivered through CDP
//      ServiceWorker.deliverPushMessage shows "A new reply in one of your cases"; a forged
//      push with other words shows the fixed sentence, never the forged words;
//   5. throttling (docs/architecture.md "Login attempts"): a guessing browser (its address
//      203.0.113.66) is told to wait seconds, then that this device is locked out of the
//      account, while the real second GP signs in from the practice (198.51.100.7) with
//      password and security code and is shown the failed attempts since the last sign-in.
// Every new page state is checked with axe-core. Screenshots: test-results/e2e-notify/.
import { createDecipheriv, createECDH, createHmac, randomBytes, hkdfSync } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { accessibilityProblems, launchChromium, nowStep, startServer, totp } from "./e2e-lib.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const repo = join(root, "..");
const python = join(repo, ".venv", "bin", "python");
const helper = join(root, "scripts", "e2e_notify.py");
const outDir = join(root, "test-results", "e2e-notify");
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const REPLY = "A new reply in one of your cases";
const b64u = (b) => Buffer.from(b).toString("base64url");

// ---------------------------------------------------------------- the loopback push service

const pushes = [];
const pushServer = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    pushes.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(201).end();
  });
});
await new Promise((r) => pushServer.listen(0, "127.0.0.1", r));
const pushOrigin = `http://127.0.0.1:${pushServer.address().port}`;

// The subscription's keys, as a browser would hold them.
const ua = createECDH("prime256v1");
ua.generateKeys();
const uaAuth = randomBytes(16);

/** RFC 8291 section 3.4 / RFC 8188: decrypt one aes128gcm push body. */
function decryptPush(body) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  const ecdh = ua.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from("WebPush: info\0"), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync("sha256", ecdh, uaAuth, info, 32));
  const prk = createHmac("sha256", salt).update(ikm).digest();
  const expand = (label, n) => createHmac("sha256", prk).update(Buffer.concat([Buffer.from(label), Buffer.from([1])])).digest().subarray(0, n);
  const cek = expand("Content-Encoding: aes128gcm\0", 16);
  const nonce = expand("Content-Encoding: nonce\0", 12);
  const d = createDecipheriv("aes-128-gcm", cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (padded[end - 1] !== 2) throw new Error("not a last record");
  return JSON.parse(padded.subarray(0, end - 1).toString("utf8"));
}

// ---------------------------------------------------------------- the server

const { server, dataDir, setupLink, output } = await startServer({
  repo,
  staticDir: join(root, "dist"),
  prefix: "dermline-e2e-notify-",
  env: { DERMLINE_PUSH_SERVICES: pushOrigin, DERMLINE_TRUSTED_PROXIES: "127.0.0.1/32" },
});
const origin = new URL(setupLink).origin;
const token = new URL(setupLink).hash.split("/").pop();
const browser = await launchChromium();
const problems = [];
function watch(pg, who, allowed = /status of 401/) {
  pg.on("console", (m) => {
    if (m.type() === "error" && !allowed.test(m.text())) problems.push(`${who}: console error: ${m.text()}`);
  });
  pg.on("pageerror", (e) => problems.push(`${who}: page error: ${e.message}`));
}
async function check(pg, name) {
  problems.push(...(await accessibilityProblems(pg, name)));
  await pg.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}
function py(...args) {
  return execFileSync(python, [helper, ...args], { cwd: repo, encoding: "utf8", timeout: 120000 }).trim();
}
async function until(f, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
async function signIn(page, who, step) {
  await page.goto(`${origin}/#/login`);
  await page.getByLabel("Email address").fill(who.login);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Security code").waitFor({ timeout: 30000 });
  await page.getByLabel("Security code").fill(totp(who.secret, step));
  await page.keyboard.press("Enter");
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
}

// The page side: the one stub (PushManager.subscribe; see the header) and a record of the
// browser notifications the page makes (the real constructor still runs).
const pageStubs = ({ endpoint, p256dh, auth }) => {
  const sub = {
    endpoint,
    expirationTime: null,
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh, auth } }),
    unsubscribe: async () => true,
  };
  if (typeof PushManager !== "undefined") {
    PushManager.prototype.subscribe = async () => sub;
    PushManager.prototype.getSubscription = async () => sub;
  }
  window.__notifications = [];
  const Real = window.Notification;
  if (Real) {
    const Recording = function (title, options) {
      window.__notifications.push({ title, body: options?.body ?? "" });
      return new Real(title, options);
    };
    Object.defineProperty(Recording, "permission", { get: () => Real.permission });
    Recording.requestPermission = (...a) => Real.requestPermission(...a);
    window.Notification = Recording;
  }
};
const setHidden = (hidden) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event("visibilitychange"));
};

try {
  const world = JSON.parse(py("setup", origin, token));
  const gp = world.gp;

  // 2. Notification settings.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["notifications"], { origin });
  await context.addInitScript(pageStubs, { endpoint: `${pushOrigin}/push/gp-desktop`, p256dh: b64u(ua.getPublicKey()), auth: b64u(uaAuth) });
  const page = await context.newPage();
  watch(page, "gp");
  await signIn(page, gp, Math.max(nowStep(), gp.step) + 1);
  await page.getByTestId("notifications-link").click();
  await page.getByRole("heading", { name: "Notification settings" }).waitFor();
  await page.getByText("Notifications are off for this device.").waitFor();
  await check(page, "settings-off");
  await page.getByRole("button", { name: "Turn on notifications on this device" }).click();
  await page.getByText("Notifications are on for this device.", { exact: true }).waitFor({ timeout: 30000 });
  await page.getByLabel("Play a sound in Dermline when something new arrives").check();
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Your notification settings are saved.").waitFor();
  await check(page, "settings-on");
  console.log("ok   the GP turned on notifications on this device and the sound");

  // 3. A reply while the tab is hidden.
  await page.goto(`${origin}/#/cases`);
  await page.getByTestId("signed-in").waitFor({ timeout: 30000 });
  const before = pushes.length;
  await page.evaluate(setHidden, true);
  if (py("reply", origin, JSON.stringify(world)) !== "ok") throw new Error("the dermatologist could not reply");
  await until(() => page.title().then((t) => /^\(1\) /.test(t)), "the title count");
  await until(() => page.getByTestId("notice-live").textContent().then((t) => t.includes(REPLY)), "the live region");
  const shown = await page.evaluate(() => window.__notifications);
  if (!shown.some((n) => n.title === "Dermline" && n.body === REPLY)) throw new Error(`no browser notification: ${JSON.stringify(shown)}`);
  console.log(`ok   hidden tab: title "${await page.title()}", live region and a browser notification "${REPLY}"`);
  await until(() => pushes.length > before, "the push at the loopback push service");
  const push = pushes[pushes.length - 1];
  if (push.path !== "/push/gp-desktop" || push.headers["content-encoding"] !== "aes128gcm" || !/^vapid t=/.test(push.headers.authorization ?? "")) {
    throw new Error(`unexpected push request ${push.path} ${JSON.stringify(push.headers)}`);
  }
  const payload = decryptPush(push.body);
  const keys = Object.keys(payload).sort().join(",");
  if (keys !== "body,n,title,v" || payload.body !== REPLY || payload.title !== "Dermline" || !Number.isInteger(payload.n)) {
    throw new Error(`unexpected push payload ${JSON.stringify(payload)}`);
  }
  for (const secret of [world.case_id, "Notify", "Dr Gee", "Dr Derm", "melanoma", "How big"]) {
    if (JSON.stringify(payload).includes(secret) || push.body.includes(Buffer.from(secret))) throw new Error(`the push holds "${secret}"`);
  }
  console.log(`ok   the loopback push service got ${push.body.length} bytes; decrypted: ${JSON.stringify(payload)}`);
  await page.evaluate(setHidden, false);
  await until(() => page.title().then((t) => !/^\(\d+\) /.test(t)), "the title count to clear");
  await check(page, "cases-after-notice");

  // 4. The service worker's push handler, through CDP.
  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => registrations.push(...e.registrations));
  await cdp.send("ServiceWorker.enable");
  const reg = await until(() => registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted), "the service worker registration");
  const notes = () => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.body));
  const deliver = (data) => cdp.send("ServiceWorker.deliverPushMessage", { origin: `${origin}/`, registrationId: reg.registrationId, data });
  await deliver(JSON.stringify({ v: 1, title: "Dermline", body: "One of your cases has changed", n: 41 }));
  await until(() => notes().then((b) => b.includes("One of your cases has changed")), "the service worker's notification");
  await deliver(JSON.stringify({ v: 1, title: "Dermline", body: "Notify Patient: biopsy result", n: 42 }));
  await until(() => notes().then((b) => b.includes(REPLY)), "the fixed sentence for a forged push");
  if ((await notes()).some((b) => b.includes("Notify Patient"))) throw new Error("the service worker showed forged words");
  console.log("ok   service worker: a push shows its fixed sentence; a forged push shows the generic one");
  await context.close();

  // 5. Throttling: a guessing address slowed and locked out while the person signs in elsewhere.
  const gp2 = world.gp2;
  const guesser = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: "block", extraHTTPHeaders: { "X-Forwarded-For": "203.0.113.66" } });
  const g = await guesser.newPage();
  watch(g, "guesser", /status of (401|429)/);
  await g.goto(`${origin}/#/login`);
  const guess = async () => {
    await g.getByLabel("Email address").fill(gp2.login);
    await g.getByLabel("Password").fill("not the password");
    await g.getByRole("button", { name: "Continue" }).click();
    // The previous answer goes as the attempt starts; wait for the new one.
    await g.locator(".nhsuk-error-summary").waitFor({ state: "detached", timeout: 5000 }).catch(() => undefined);
    return until(async () => {
      const t = await g.locator(".nhsuk-error-summary").textContent().catch(() => "");
      return t && !(await g.getByRole("button", { name: "Signing in…" }).count()) ? t : "";
    }, "a sign-in answer");
  };
  const seen = [];
  for (let i = 0; i < 12 && !seen.some((t) => /from this device/.test(t)); i++) {
    const said = await guess();
    seen.push(said);
    const wait = /Wait (\d+) seconds?/.exec(said);
    if (wait) await new Promise((r) => setTimeout(r, Number(wait[1]) * 1000));
  }
  if (!seen.some((t) => /Wait \d+ seconds? before trying again/.test(t))) throw new Error(`no growing wait: ${JSON.stringify(seen)}`);
  if (!seen.some((t) => /Too many wrong attempts on this account from this device/.test(t))) throw new Error(`no lockout of the address: ${JSON.stringify(seen)}`);
  await check(g, "guesser-locked");
  console.log(`ok   the guessing address was told: ${[...new Set(seen.map((t) => t.replace(/\s+/g, " ").trim()))].join(" | ")}`);
  const clinic = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: "block", extraHTTPHeaders: { "X-Forwarded-For": "198.51.100.7" } });
  const c = await clinic.newPage();
  watch(c, "clinic");
  await signIn(c, gp2, Math.max(nowStep(), gp2.step) + 1);
  const notice = await c.getByTestId("failed-attempts").textContent({ timeout: 30000 });
  if (!/There were \d+ failed sign-in attempts/.test(notice)) throw new Error(`no failed-attempts notice: ${notice}`);
  await check(c, "signed-in-after-guessing");
  console.log(`ok   the GP signed in from the practice meanwhile and was told: ${notice.replace(/\s+/g, " ").trim()}`);
  const again = await guess();
  if (!/from this device/.test(again)) throw new Error(`the guessing address is no longer locked: ${again}`);
  console.log("ok   the guessing address stays locked out after the person signed in");
  await guesser.close();
  await clinic.close();
} catch (e) {
  problems.push(`flow failed: ${e.message}`);
  for (const [i, pg] of browser.contexts().flatMap((x) => x.pages()).entries()) {
    await pg.screenshot({ path: join(outDir, `failure-${i + 1}.png`), fullPage: true }).catch(() => undefined);
  }
} finally {
  writeFileSync(join(outDir, "server.log"), output());
  await browser.close();
  server.kill("SIGTERM");
  pushServer.close();
  rmSync(dataDir, { recursive: true, force: true });
}
for (const p of problems) console.log(`FAIL ${p}`);
console.log(problems.length ? `${problems.length} problem(s)` : "notifications and sign-in throttling pass end to end");
process.exit(problems.length ? 1 : 0);
