/**
 * App-shell logic that does not need a DOM: NHS number modulus 11, form rules, hash routes, the
 * in-memory key session (idle re-lock, logout wipes references, refuses extractable keys) and
 * enrolment (real crypto; the records it makes open with the protocol functions).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  KeyPurpose,
  decodeRecoveryKey,
  deriveLoginKeys,
  encodeRecoveryKey,
  newRecoverySecret,
  parseKdfParams,
  unsealPrivateKey,
  unwrapUskWithKek,
  unwrapUskWithRecoveryKey,
} from "../../src/crypto/index";
import type { AcceptInvite, Me } from "../../src/app/api";
import { enrol } from "../../src/app/enrolment";
import { openKeys, passwordKeys } from "../../src/app/unlock";
import { parseRoute } from "../../src/app/router";
import { Session } from "../../src/app/session";
import { emailError, isValidNhsNumber, newPasswordError, nhsNumberError, recoveryCodeError, totpCodeError } from "../../src/app/validation";

describe("NHS number (modulus 11)", () => {
  it("accepts valid numbers however they are spaced", () => {
    for (const n of ["9434765919", "943 476 5919", "943-476-5919", "4010232137"]) {
      expect(isValidNhsNumber(n)).toBe(true);
      expect(nhsNumberError(n)).toBeNull();
    }
  });
  it("rejects a wrong check digit, check value 10, wrong lengths and letters", () => {
    expect(isValidNhsNumber("9434765918")).toBe(false); // check digit off by one
    // Hand-computed: 000000001x has sum 1*2 = 2, so x = 11 - 2 = 9; 100000000x has sum 10,
    // so x = 1; 000000010x has sum 1*3 = 3, so x = 8.
    expect(isValidNhsNumber("0000000019")).toBe(true);
    expect(isValidNhsNumber("1000000001")).toBe(true);
    expect(isValidNhsNumber("1000000010")).toBe(false);
    expect(isValidNhsNumber("0000000108")).toBe(true);
    // A remainder of 1 gives check value 10, which no digit can match: 000000006x has sum
    // 6*2 = 12, remainder 1, so every final digit is refused.
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumber(`000000006${d}`)).toBe(false);
    expect(nhsNumberError("")).toBe("Enter the patient's NHS number");
    expect(nhsNumberError("94347659")).toBe("NHS number must be 10 digits");
    expect(nhsNumberError("94347659AB")).toBe("NHS number must only include numbers");
    expect(nhsNumberError("9434765918")).toMatch(/valid NHS number/);
  });
});

describe("form rules", () => {
  it("password, TOTP code and email", () => {
    expect(newPasswordError("")).toBe("Enter a password");
    expect(newPasswordError("elevenchars")).toMatch(/12 characters/);
    expect(newPasswordError("twelve chars")).toBeNull();
    expect(totpCodeError("123 456")).toBeNull();
    expect(totpCodeError("12345")).toBe("The code must be 6 digits");
    expect(totpCodeError("")).toMatch(/6-digit code/);
    expect(recoveryCodeError("k7m2q-xh9rt")).toBeNull();
    expect(recoveryCodeError(" K7M2Q XH9RT ")).toBeNull();
    expect(recoveryCodeError("")).toBe("Enter one of your recovery codes");
    expect(recoveryCodeError("k7m2q")).toMatch(/10 letters and numbers/);
    expect(recoveryCodeError("k7m2q-xh9r!")).toMatch(/10 letters and numbers/);
    expect(emailError("gp@example.nhs.uk")).toBeNull();
    expect(emailError("gp@")).toMatch(/correct format/);
  });
});

describe("routes", () => {
  it("parses the hash routes", () => {
    expect(parseRoute("")).toEqual({ name: "start" });
    expect(parseRoute("#/login")).toEqual({ name: "login" });
    expect(parseRoute("#/invite/abcdefgh1234")).toEqual({ name: "invite", token: "abcdefgh1234" });
    expect(parseRoute("#/invite/short")).toEqual({ name: "notFound" });
    expect(parseRoute("#/invite/../../x")).toEqual({ name: "notFound" });
  });
});

describe("enrolment and the key session", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("makes records that unlock with the password and the recovery key; the session re-locks", async () => {
    vi.useRealTimers();
    const user = crypto.randomUUID();
    const secret = newRecoverySecret();
    const { request, keys } = await enrol(
      { token: "t".repeat(20), userId: user, loginName: "gp@example.nhs.uk", displayName: "Dr GP", password: "correct horse battery staple" },
      secret,
      600_000,
    );
    // The server would store these; the password path opens them again.
    const params = parseKdfParams(request.kdfParams);
    expect(params.iterations).toBe(600_000);
    const login = await deriveLoginKeys("correct horse battery staple", params.salt, params.iterations);
    expect(request.authKey).toEqual(login.authKey);
    const usk = await unwrapUskWithKek(request.wrappedUsk, login.kek, user);
    const viaRecovery = await unwrapUskWithRecoveryKey(
      request.recoveryWrappedUsk,
      await decodeRecoveryKey(await encodeRecoveryKey(secret)),
      user,
    );
    expect(viaRecovery).toEqual(usk);
    expect(request.sealedPrivateKeys.length).toBe(160);
    const enc = await unsealPrivateKey(request.sealedPrivateKeys.subarray(0, 80), KeyPurpose.ENCRYPTION, usk, user);
    const sig = await unsealPrivateKey(request.sealedPrivateKeys.subarray(80), KeyPurpose.SIGNING, usk, user);
    expect(enc.publicKey).toEqual(request.encryptionPublicKey);
    expect(sig.publicKey).toEqual(request.signingPublicKey);
    // The unlock path (what sign-in runs) opens the same records from a /me answer.
    const unlocked = await openKeys(
      {
        userId: user,
        displayName: "Dr GP",
        loginName: "gp@example.nhs.uk",
        roles: ["gp"],
        kdfParams: request.kdfParams,
        wrappedUsk: request.wrappedUsk,
        sealedPrivateKeys: request.sealedPrivateKeys,
        encryptionPublicKey: request.encryptionPublicKey,
        signingPublicKey: request.signingPublicKey,
      },
      (await passwordKeys(request.kdfParams, "correct horse battery staple")).kek,
    );
    expect(unlocked.signing.publicKey).toEqual(request.signingPublicKey);
    expect(unlocked.usk.extractable).toBe(false);
    // A wrong password fails to unwrap; a swapped public key is refused.
    await expect(openKeys({ ...unlockedMe(request, user) }, (await passwordKeys(request.kdfParams, "wrong password!!")).kek)).rejects.toThrow();
    await expect(
      openKeys({ ...unlockedMe(request, user), signingPublicKey: request.encryptionPublicKey }, (await passwordKeys(request.kdfParams, "correct horse battery staple")).kek),
    ).rejects.toThrow("cannot unseal the private key");
    expect(keys.usk.extractable).toBe(false);
    expect(keys.signing.privateKey.extractable).toBe(false);

    vi.useFakeTimers();
    const session = new Session(1000);
    const seen: boolean[] = [];
    session.subscribe((locked) => seen.push(locked));
    session.unlock(keys);
    expect(session.locked).toBe(false);
    vi.advanceTimersByTime(900);
    session.touch();
    vi.advanceTimersByTime(900);
    expect(session.locked).toBe(false);
    vi.advanceTimersByTime(200);
    expect(session.locked).toBe(true);
    expect(session.unlocked).toBeNull();
    expect(seen).toEqual([false, true]);
  });

  it("refuses extractable keys", async () => {
    const session = new Session();
    const usk = await crypto.subtle.importKey("raw", new Uint8Array(32), "HKDF", false, ["deriveKey"]);
    const ext = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
    const key = { purpose: KeyPurpose.SIGNING, privateKey: ext.privateKey, publicKey: new Uint8Array(65), keyId: new Uint8Array(16) };
    expect(() => session.unlock({ userId: "u", usk, encryption: key, signing: key })).toThrow(TypeError);
    expect(session.locked).toBe(true);
  });
});

function unlockedMe(r: AcceptInvite, userId: string): Me {
  return {
    userId,
    displayName: r.displayName,
    loginName: r.loginName,
    roles: ["gp"],
    kdfParams: r.kdfParams,
    wrappedUsk: r.wrappedUsk,
    sealedPrivateKeys: r.sealedPrivateKeys,
    encryptionPublicKey: r.encryptionPublicKey,
    signingPublicKey: r.signingPublicKey,
  };
}

describe("receipts merge", () => {
  it("keeps the highest seq per user and kind, whatever the arrival order", async () => {
    const { mergeReceipts } = await import("../../src/app/pages/CaseView");
    const live = [{ userId: "gp", kind: "read" as const, seq: 3 }];
    const staleHttp = [
      { userId: "gp", kind: "read" as const, seq: 2 },
      { userId: "gp", kind: "delivered" as const, seq: 3 },
    ];
    const merged = mergeReceipts(live, staleHttp);
    expect(merged).toContainEqual({ userId: "gp", kind: "read", seq: 3 });
    expect(merged).toContainEqual({ userId: "gp", kind: "delivered", seq: 3 });
    expect(merged).toHaveLength(2);
  });
});
