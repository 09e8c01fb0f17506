/**
 * How long a closed case is kept: the retention date the closing client sends
 * (docs/operations.md, "Retention"; the Python twin is client_py/retention.py, and both pass
 * the table tests/vectors/retention.json).
 *
 * Only a participant can read the date of birth (inside the end-to-end encrypted clinical
 * history), so the client computes the date when it closes a case:
 * - 18 or over at closure: 8 years after the closure;
 * - 17 at closure: until the 26th birthday; younger: until the 25th birthday.
 * A date that does not exist in the target year (29 February) becomes 1 March, the later day.
 * What is sent is 31 December of that year: the server learns a year, never a birthday.
 * Dates are ISO "YYYY-MM-DD" strings, computed on the calendar alone (no time zones).
 */

export interface Retention {
  ageAtClosure: number;
  rule: "adult" | "child" | "child_17";
  ruleDate: string;
  retainUntil: string;
}

export class RetentionError extends Error {}

interface Ymd {
  y: number;
  m: number;
  d: number;
}

function parse(iso: string): Ymd {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!match) throw new RetentionError("not a date (YYYY-MM-DD)");
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const check = new Date(Date.UTC(y, m - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) {
    throw new RetentionError("not a date (YYYY-MM-DD)");
  }
  return { y, m, d };
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");
const iso = (x: Ymd) => `${pad(x.y, 4)}-${pad(x.m, 2)}-${pad(x.d, 2)}`;
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** `day` moved `years` on; 29 February becomes 1 March in a common year. */
function anniversary(day: Ymd, years: number): Ymd {
  const y = day.y + years;
  if (day.m === 2 && day.d === 29 && !isLeap(y)) return { y, m: 3, d: 1 };
  return { y, m: day.m, d: day.d };
}

const before = (a: Ymd, b: Ymd) => a.y < b.y || (a.y === b.y && (a.m < b.m || (a.m === b.m && a.d < b.d)));

export function retentionFor(dateOfBirth: string, closedOn: string): Retention {
  const dob = parse(dateOfBirth);
  const closed = parse(closedOn);
  if (before(closed, dob)) throw new RetentionError("the date of birth is after the closure");
  const birthdayNotYet = closed.m < dob.m || (closed.m === dob.m && closed.d < dob.d);
  const age = closed.y - dob.y - (birthdayNotYet ? 1 : 0);
  let rule: Retention["rule"];
  let ruleDate: Ymd;
  if (age >= 18) [rule, ruleDate] = ["adult", anniversary(closed, 8)];
  else if (age === 17) [rule, ruleDate] = ["child_17", anniversary(dob, 26)];
  else [rule, ruleDate] = ["child", anniversary(dob, 25)];
  return { ageAtClosure: age, rule, ruleDate: iso(ruleDate), retainUntil: `${pad(ruleDate.y, 4)}-12-31` };
}

/** Today's date as the server's clock names it (UTC), for the closure. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/**
 * The close request's `retention` field for a thread whose clinical history names the date
 * of birth; undefined when there is none to read (the server then keeps the case longest).
 */
export function closeRetention(
  entries: readonly { contentType: number; body: Record<string, unknown> }[],
  clinicalHistoryType: number,
  now: Date = new Date(),
): { retain_until: string } | undefined {
  const history = entries.find((e) => e.contentType === clinicalHistoryType);
  const patient = history?.body.patient as { date_of_birth?: unknown } | undefined;
  if (typeof patient?.date_of_birth !== "string") return undefined;
  try {
    return { retain_until: retentionFor(patient.date_of_birth, todayUtc(now)).retainUntil };
  } catch {
    return undefined;
  }
}
