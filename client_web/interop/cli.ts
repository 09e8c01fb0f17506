/**
 * `node dist-node/interop.mjs` (built by `npm run build:interop`): runs the browser port's
 * operations for the Python suite (tests/client_web/test_browser_interop.py).
 *
 * - default: reads one request or an array of requests as JSON on stdin, writes the
 *   response(s) as JSON on stdout, exit code 0;
 * - `--serve`: one JSON request per stdin line, one JSON response per stdout line, in order,
 *   until stdin closes (a long-lived engine for a test session);
 * - `--chromium` (with either): the operations run inside a page of headless Chromium
 *   (`CHROMIUM_PATH`, default /usr/bin/chromium, launched by playwright-core) instead of
 *   Node: dist-node/interop-page.js is loaded into an https page served by request
 *   interception (a secure context, so WebCrypto is available);
 * - `--list` prints the operation names.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { OPERATIONS, dispatch, type Request } from "./dispatch";

type Response = Awaited<ReturnType<typeof dispatch>>;
type Engine = { run(req: unknown): Promise<Response>; close(): Promise<void> };

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ORIGIN = "https://interop.dermline.test";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function nodeEngine(): Engine {
  return { run: (req) => dispatch(req as Request), close: async () => {} };
}

async function chromiumEngine(): Promise<Engine> {
  // Not bundled (vite.interop.config.ts marks it external): resolved from node_modules.
  const { chromium } = await import("playwright-core");
  const script = readFileSync(new URL("./interop-page.js", import.meta.url), "utf8");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
  });
  const page = await browser.newPage();
  await page.route(`${ORIGIN}/**`, (route) =>
    route.fulfill({ contentType: "text/html", body: "<!doctype html><title>Dermline interop</title>" }),
  );
  await page.goto(`${ORIGIN}/`);
  await page.addScriptTag({ content: script });
  const secure = await page.evaluate(() => globalThis.isSecureContext && globalThis.crypto?.subtle !== undefined);
  if (!secure) throw new Error("the interop page is not a secure context");
  return {
    run: (req) =>
      page.evaluate(
        (r) =>
          (
            globalThis as unknown as { dermlineInterop: { dispatch(r: unknown): Promise<Response> } }
          ).dermlineInterop.dispatch(r),
        req,
      ),
    close: () => browser.close(),
  };
}

async function serve(engine: Engine): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      process.stdout.write(`${JSON.stringify({ error: "NotJson" })}\n`);
      continue;
    }
    process.stdout.write(`${JSON.stringify(await engine.run(req))}\n`);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--list")) {
    process.stdout.write(`${JSON.stringify(OPERATIONS)}\n`);
    return;
  }
  const engine = process.argv.includes("--chromium") ? await chromiumEngine() : nodeEngine();
  try {
    if (process.argv.includes("--serve")) {
      await serve(engine);
      return;
    }
    let input: unknown;
    try {
      input = JSON.parse(await readStdin());
    } catch {
      process.stderr.write("interop: stdin is not JSON\n");
      process.exitCode = 2;
      return;
    }
    const out = Array.isArray(input)
      ? await Promise.all(input.map((r) => engine.run(r)))
      : await engine.run(input);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await engine.close();
  }
}

void main();
