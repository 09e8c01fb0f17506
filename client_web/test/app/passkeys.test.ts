// The pure parts of the passkey module (src/app/passkeys.ts): the 0x11 wrap made from a
// ceremony's PRF output (which is zeroed after use), the route, the NHS.UK-style messages.
// The WebAuthn ceremonies themselves run against Chromium's virtual authenticator in
// scripts/e2e-passkeys.mjs.
import { describe, expect, it } from "vitest";
import { unwrapUskWithPasskey } from "../../src/crypto/usk";
import { ApiError } from "../../src/app/api";
import { PasskeyCancelled, passkeyErrorMessage, wrapForPasskey, type CeremonyResult } from "../../src/app/passkeys";
import { href, parseRoute } from "../../src/app/router";
import { parseAdminRoute } from "../../src/app/pages/Admin";

const USER = "0f3c1c9e-5b1d-4b8e-9d7a-2b6f0c1e8a11";

describe("wrapForPasskey", () => {
  it("wraps the USK under the PRF output, bound to the credential, and zeroes the output", async () => {
    const usk = crypto.getRandomValues(new Uint8Array(32));
    const prf = crypto.getRandomValues(new Uint8Array(32));
    const kept = prf.slice();
    const credentialId = crypto.getRandomValues(new Uint8Array(20));
    const result: CeremonyResult = { credential: {}, credentialId, prfOutput: prf };
    const wrap = await wrapForPasskey(usk, USER, result);
    expect(wrap).not.toBeNull();
    expect(wrap!.length).toBe(63);
    expect(Array.from(wrap!.subarray(0, 3))).toEqual([1, 1, 0x11]);
    expect(prf.every((b) => b === 0)).toBe(true);
    expect(await unwrapUskWithPasskey(wrap!, kept, USER, credentialId)).toEqual(usk);
    await expect(unwrapUskWithPasskey(wrap!, kept, USER, credentialId.subarray(1))).rejects.toThrow("cannot unwrap the user key with this passkey");
  });

  it("makes no wrap without a PRF output (a passkey that is a second factor only)", async () => {
    const result: CeremonyResult = { credential: {}, credentialId: new Uint8Array(16), prfOutput: null };
    expect(await wrapForPasskey(new Uint8Array(32), USER, result)).toBeNull();
  });
});

describe("security route and messages", () => {
  it("routes the admin's passkey requirement", () => {
    const org = "0f3c1c9e-5b1d-4b8e-9d7a-2b6f0c1e8a12";
    expect(parseAdminRoute(`/orgs/${org}/passkeys`)).toEqual({ page: "passkeys", orgId: org });
    expect(parseAdminRoute(`/orgs/${org}/passkey`)).toEqual({ page: "notFound" });
  });

  it("routes #/security", () => {
    expect(parseRoute("#/security")).toEqual({ name: "security" });
    expect(href({ name: "security" })).toBe("#/security");
  });

  it("maps passkey failures to plain text, never the server's message", () => {
    expect(passkeyErrorMessage(new PasskeyCancelled())).toMatch(/not used/);
    expect(passkeyErrorMessage(new ApiError(401, "passkey_invalid"))).toMatch(/could not accept/);
    expect(passkeyErrorMessage(new ApiError(403, "passkey_required"))).toMatch(/requires/);
    expect(passkeyErrorMessage(new ApiError(401, "invalid_totp"))).toBeNull();
  });
});
