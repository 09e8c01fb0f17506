/**
 * `node dist-node/interop.mjs` (built by `npm run build:interop`): reads one request or an
 * array of requests as JSON on stdin, writes the response(s) as JSON on stdout, exit code 0.
 * `node dist-node/interop.mjs --list` prints the operation names. See interop/README.md.
 */
import { OPERATIONS, dispatch, type Request } from "./dispatch";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(): Promise<void> {
  if (process.argv.includes("--list")) {
    process.stdout.write(`${JSON.stringify(OPERATIONS)}\n`);
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
    ? await Promise.all(input.map((r) => dispatch(r as Request)))
    : await dispatch(input as Request);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

void main();
