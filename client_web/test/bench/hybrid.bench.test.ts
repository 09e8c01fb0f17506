/**
 * Suite 1 against suite 2 (post-quantum hybrid) in the browser: case-key wraps and opens per
 * second, each X-Wing path (WebCrypto MLKEM768-X25519 and @noble/post-quantum), and a new
 * epoch for a case with 10 participants (11 wraps). Run: `npm run bench:browser` (headless
 * Chromium). Five rounds of about one second each; median, min and max are written to
 * test-output/bench-hybrid-<engine>.json and printed. Nothing is asserted about time.
 */
import { afterAll, describe, expect, it } from "vitest";
import { generateKeyPair, keyPairFromSeed, KeyPurpose, signingIdentity, toAccountKey } from "../../src/crypto/account";
import { generateCaseKey, openCaseKeyWrap, wrapCaseKey } from "../../src/crypto/caseKey";
import { generateHybridKeyPair, openHybridCaseKeyWrap, wrapCaseKeyHybrid } from "../../src/crypto/hybrid";
import { hpkeRecipientFromScalar } from "../../src/crypto/primitives/hpke";
import { setXWingPath, xwingPath, type XWingPath } from "../../src/crypto/primitives/xwing";
import { IN_BROWSER } from "../helpers/vectors";

const engine = IN_BROWSER ? "chromium" : "node";
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function rate(fn: () => Promise<unknown>, seconds = 1): Promise<number> {
  for (let i = 0; i < 5; i++) await fn();
  let count = 0;
  const start = performance.now();
  for (;;) {
    await fn();
    count++;
    const elapsed = (performance.now() - start) / 1000;
    if (elapsed >= seconds) return count / elapsed;
  }
}

async function spread(fn: () => Promise<unknown>, rounds = 5): Promise<{ median: number; min: number; max: number }> {
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) rates.push(await rate(fn));
  const r = (x: number) => Math.round(x * 10) / 10;
  return { median: r(median(rates)), min: r(Math.min(...rates)), max: r(Math.max(...rates)) };
}

async function save(name: string, data: unknown): Promise<void> {
  const text = JSON.stringify(data, null, 2);
  console.log(`${name}: ${text}`);
  if (IN_BROWSER) {
    const { commands } = await import("vitest/browser");
    await commands.writeFile(`test-output/${name}.json`, text);
  }
}

const figures: Record<string, unknown> = { engine, userAgent: globalThis.navigator?.userAgent ?? "" };
afterAll(() => setXWingPath(undefined));

describe("suite 2 performance", () => {
  it("wraps and opens per second, both suites, both X-Wing paths", async () => {
    figures.detected_path = await xwingPath();
    const signingPair = await keyPairFromSeed(crypto.getRandomValues(new Uint8Array(32)));
    const wrapper = signingIdentity(await toAccountKey(signingPair, KeyPurpose.SIGNING));
    const caseId = "0190a6c2-7d3e-7c1a-9b2e-3f4a5b6c7d8e";
    const wrapperUserId = "0190a6c2-7d3e-7c1a-9b2e-3f4a5b6c7d8f";
    const ck = generateCaseKey();
    const common = { caseId, epoch: 0, wrapperUserId, wrapper };
    const open = { caseId, epoch: 0, wrapperSigningPublicKey: signingPair.publicKey, wrapperUserId };

    const classical = await generateKeyPair();
    const recipient = { ...(await hpkeRecipientFromScalar(classical.privateKey)), keyId: classical.keyId };
    const rec1 = await wrapCaseKey(ck, { ...common, recipientPublicKey: classical.publicKey });
    figures.suite1_wrap_per_s = await spread(() => wrapCaseKey(ck, { ...common, recipientPublicKey: classical.publicKey }));
    figures.suite1_open_per_s = await spread(() => openCaseKeyWrap(rec1, { ...open, recipient }));
    const eleven1 = await Promise.all(Array.from({ length: 11 }, () => generateKeyPair()));
    const epoch1 = await spread(async () => {
      for (const p of eleven1) await wrapCaseKey(ck, { ...common, recipientPublicKey: p.publicKey });
    });
    figures.suite1_epoch_of_10_participants_ms = Math.round(1000 / epoch1.median);

    const hybrid = await generateHybridKeyPair();
    const eleven2 = await Promise.all(Array.from({ length: 11 }, () => generateHybridKeyPair()));
    const paths: XWingPath[] = figures.detected_path === "webcrypto" ? ["webcrypto", "library"] : ["library"];
    for (const path of paths) {
      setXWingPath(path);
      const rec2 = await wrapCaseKeyHybrid(ck, { ...common, recipientPublicKey: hybrid.publicKey });
      expect(rec2.length).toBe(1335);
      figures[`suite2_${path}_wrap_per_s`] = await spread(() =>
        wrapCaseKeyHybrid(ck, { ...common, recipientPublicKey: hybrid.publicKey }),
      );
      figures[`suite2_${path}_open_per_s`] = await spread(() =>
        openHybridCaseKeyWrap(rec2, { ...open, recipient: hybrid }),
      );
      const epoch2 = await spread(async () => {
        for (const p of eleven2) await wrapCaseKeyHybrid(ck, { ...common, recipientPublicKey: p.publicKey });
      });
      figures[`suite2_${path}_epoch_of_10_participants_ms`] = Math.round(1000 / epoch2.median);
    }
    figures.suite1_wrap_bytes = rec1.length;
    await save(`bench-hybrid-${engine}`, figures);
  });
});
