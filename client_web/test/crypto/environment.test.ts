/**
 * Says which WebCrypto engine the suite ran on, so a green run in the "chromium" project is
 * known to have exercised Chromium's BoringSSL and not Node's OpenSSL.
 */
import { describe, expect, it } from "vitest";
import { IN_BROWSER } from "../helpers/vectors";

describe("engine", () => {
  it("runs where the project says", () => {
    if (IN_BROWSER) {
      expect(navigator.userAgent).toMatch(/HeadlessChrome|Chrome/);
      expect(typeof (globalThis as { process?: unknown }).process).not.toBe("object");
    } else {
      expect(typeof process.versions.node).toBe("string");
    }
    expect(typeof globalThis.crypto.subtle.importKey).toBe("function");
  });
});
