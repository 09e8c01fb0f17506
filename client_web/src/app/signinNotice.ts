/**
 * "N failed sign-in attempts since you last signed in" (docs/architecture.md, "Login
 * attempts"): the server answers the number with a completed sign-in (`failed_attempts`);
 * the page that follows shows it once. Kept in sessionStorage so the navigation after
 * sign-in does not lose it; it is a count, nothing about who tried.
 */
const KEY = "dermline.failedAttempts";

/** Remember the count from a sign-in answer (any object carrying `failed_attempts`). */
export function noteSignInAnswer(answer: Record<string, unknown>): void {
  const n = answer.failed_attempts;
  if (typeof n === "number" && Number.isInteger(n) && n >= 0) {
    try {
      sessionStorage.setItem(KEY, String(n));
    } catch {
      // storage unavailable: the notice is simply not shown
    }
  }
}

/** The count noted by the last sign-in, once (null if none). */
export function takeFailedAttempts(): number | null {
  try {
    const v = sessionStorage.getItem(KEY);
    sessionStorage.removeItem(KEY);
    return v === null ? null : Number(v);
  } catch {
    return null;
  }
}

/** The sentence shown to the person, or null when there is nothing to tell. */
export function failedAttemptsText(n: number | null): string | null {
  if (n === null || !(n > 0)) return null;
  const what = n === 1 ? "There was 1 failed sign-in attempt" : `There were ${n} failed sign-in attempts`;
  return `${what} on your account since you last signed in. If that was not you, tell your administrator.`;
}
