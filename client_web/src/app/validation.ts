/**
 * Form validation rules shared by the pages. Messages follow the NHS.UK error message
 * guidance: say what happened and how to fix it, in plain words.
 */

/**
 * NHS number check (NHS Data Dictionary, "NHS Number"): 10 digits; weights 10..2 on the first
 * nine; 11 - (sum mod 11) is the check digit, where 11 means 0 and 10 means invalid.
 * Spaces and hyphens (as people type them, "943 476 5919") are ignored.
 */
export function isValidNhsNumber(input: string): boolean {
  const digits = input.replace(/[\s-]/g, "");
  if (!/^[0-9]{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

export function nhsNumberError(input: string): string | null {
  const digits = input.replace(/[\s-]/g, "");
  if (digits.length === 0) return "Enter the patient's NHS number";
  if (!/^[0-9]+$/.test(digits)) return "NHS number must only include numbers";
  if (digits.length !== 10) return "NHS number must be 10 digits";
  if (!isValidNhsNumber(digits)) return "Enter a valid NHS number: check the digits have been typed correctly";
  return null;
}

export const MIN_PASSWORD_LENGTH = 12;

export function newPasswordError(password: string): string | null {
  if (password.length === 0) return "Enter a password";
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `Password must be ${MIN_PASSWORD_LENGTH} characters or more`;
  }
  return null;
}

export function totpCodeError(code: string): string | null {
  const c = code.replace(/\s/g, "");
  if (c.length === 0) return "Enter the 6-digit code from your authenticator app";
  if (!/^[0-9]{6}$/.test(c)) return "The code must be 6 digits";
  return null;
}

/**
 * A recovery code as the server issues them (`k7m2q-xh9rt`: 10 letters and digits); case,
 * spaces and dashes do not matter (the server ignores them too).
 */
export function recoveryCodeError(code: string): string | null {
  const c = code.replace(/[\s-]/g, "");
  if (c.length === 0) return "Enter one of your recovery codes";
  if (!/^[A-Za-z0-9]{10}$/.test(c)) return "A recovery code is 10 letters and numbers, like k7m2q-xh9rt";
  return null;
}

export function emailError(email: string): string | null {
  const e = email.trim();
  if (e.length === 0) return "Enter your email address";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) {
    return "Enter an email address in the correct format, like name@example.nhs.uk";
  }
  return null;
}

/**
 * Date of birth typed as day/month/year ("15/3/1984", "15 03 1984", "15-3-1984"); returns the
 * ISO date or null. Must be a real calendar date, not in the future, not before 1900.
 */
export function parseDateOfBirth(input: string, today: Date = new Date()): string | null {
  const m = /^\s*(\d{1,2})[\s/.-]+(\d{1,2})[\s/.-]+(\d{4})\s*$/.exec(input);
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  if (y < 1900 || date.getTime() > today.getTime()) return null;
  return `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}
