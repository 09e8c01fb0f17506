/**
 * Sign-in refusals say what they are (docs/architecture.md, "Login attempts"): only the
 * per-address limits speak of "this device", the waits come from Retry-After, and the
 * failed attempts since the last sign-in are told once.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { ApiError, apiErrorMessage } from "../../src/app/api";
import { failedAttemptsText, noteSignInAnswer, takeFailedAttempts } from "../../src/app/signinNotice";

describe("sign-in refusals", () => {
  it("words each wait as it is", () => {
    expect(apiErrorMessage(new ApiError(429, "signin_delayed", 2))).toBe(
      "Wait 2 seconds before trying again: each wrong attempt on this account adds a short wait.",
    );
    expect(apiErrorMessage(new ApiError(429, "signin_delayed", 1))).toMatch(/^Wait 1 second before/);
    expect(apiErrorMessage(new ApiError(429, "address_locked", 899))).toBe(
      "Too many wrong attempts on this account from this device. Try again in 15 minutes, or sign in from another device.",
    );
    expect(apiErrorMessage(new ApiError(423, "account_locked", 60))).toMatch(/from several places.*device you have used before.*1 minute/);
    expect(apiErrorMessage(new ApiError(429, "rate_limited", 20))).toBe("Too many attempts from this device. Wait 20 seconds and try again.");
    expect(apiErrorMessage(new ApiError(429, "rate_limited"))).toMatch(/Wait a minute/);
    // Only the per-address answers mention the device.
    expect(apiErrorMessage(new ApiError(429, "signin_delayed", 4))).not.toMatch(/device/);
  });
});

describe("failed attempts since the last sign-in", () => {
  const store = new Map<string, string>();
  beforeEach(() => {
    store.clear();
    (globalThis as { sessionStorage?: unknown }).sessionStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
    };
  });

  it("is noted from a sign-in answer and told once", () => {
    noteSignInAnswer({ next: "done", failed_attempts: 3 });
    expect(takeFailedAttempts()).toBe(3);
    expect(takeFailedAttempts()).toBeNull();
    expect(failedAttemptsText(3)).toBe(
      "There were 3 failed sign-in attempts on your account since you last signed in. If that was not you, tell your administrator.",
    );
    expect(failedAttemptsText(1)).toMatch(/^There was 1 failed sign-in attempt on/);
    expect(failedAttemptsText(0)).toBeNull();
    noteSignInAnswer({ next: "totp" });
    noteSignInAnswer({ failed_attempts: "3" });
    expect(takeFailedAttempts()).toBeNull();
  });
});
