/**
 * Records retention for records officers (docs/api.md "Retention and legal holds"): the
 * organisation's minimum period, its legal holds, and where one case stands. The server is
 * the authority on every rule (a records officer of the case's practice or service; the
 * client's date, the minimum, the hold); this module only carries the requests.
 */
import { call } from "./call";

export const HOLD_REASONS = ["litigation", "complaint", "inquiry", "investigation", "subject_access", "other"] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];

export const HOLD_REASON_LABELS: Record<HoldReason, string> = {
  litigation: "Litigation or a claim",
  complaint: "A complaint",
  inquiry: "A public or coroner's inquiry",
  investigation: "An investigation (for example a serious incident)",
  subject_access: "A subject access request",
  other: "Another legal reason",
};

export interface OrgRetention {
  orgId: string;
  minYears: number;
  setBy: string | null;
  updatedAt: string | null;
}

export interface LegalHold {
  caseId: string;
  reason: HoldReason;
  placedBy: string;
  placedAt: string;
  /** the records officer's own reference (a claim or complaint number), or null */
  reference: string | null;
}

export type RetentionBasis = "client_date" | "no_client_date" | "organisation_minimum";

export interface CaseRetention {
  caseId: string;
  /** the closing client's date (YYYY-12-31), or null */
  retainUntil: string | null;
  /** the instant from which the case may be disposed of; null while the case is open */
  keepUntil: string | null;
  basis: RetentionBasis | null;
  hold: LegalHold | null;
  disposedAt: string | null;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

function reasonOf(v: unknown): HoldReason {
  return (HOLD_REASONS as readonly string[]).includes(String(v)) ? (v as HoldReason) : "other";
}

function holdOf(r: Record<string, unknown>): LegalHold {
  return { caseId: String(r.case_id), reason: reasonOf(r.reason), placedBy: String(r.placed_by), placedAt: String(r.placed_at), reference: str(r.reference) };
}

function orgOf(r: Record<string, unknown>): OrgRetention {
  return { orgId: String(r.org_id), minYears: Number(r.min_years), setBy: str(r.set_by), updatedAt: str(r.updated_at) };
}

const BASES: readonly string[] = ["client_date", "no_client_date", "organisation_minimum"];
const org = (orgId: string) => `/orgs/${encodeURIComponent(orgId)}`;
const kase = (caseId: string) => `/cases/${encodeURIComponent(caseId)}`;

export const recordsApi = {
  async minimum(orgId: string): Promise<OrgRetention> {
    return orgOf(await call("GET", `${org(orgId)}/retention`));
  },
  async setMinimum(orgId: string, minYears: number): Promise<OrgRetention> {
    return orgOf(await call("PUT", `${org(orgId)}/retention`, { min_years: minYears }));
  },
  async holds(orgId: string): Promise<LegalHold[]> {
    const r = await call("GET", `${org(orgId)}/legal-holds`);
    return (Array.isArray(r.holds) ? r.holds : []).map((h) => holdOf(h as Record<string, unknown>));
  },
  async caseStatus(caseId: string): Promise<CaseRetention> {
    const r = await call("GET", `${kase(caseId)}/retention`);
    return {
      caseId: String(r.case_id),
      retainUntil: str(r.retain_until),
      keepUntil: str(r.keep_until),
      basis: BASES.includes(String(r.basis)) ? (r.basis as RetentionBasis) : null,
      hold: r.legal_hold && typeof r.legal_hold === "object" ? holdOf(r.legal_hold as Record<string, unknown>) : null,
      disposedAt: str(r.disposed_at),
    };
  },
  async placeHold(caseId: string, reason: HoldReason, reference: string | null): Promise<LegalHold> {
    return holdOf(await call("PUT", `${kase(caseId)}/legal-hold`, reference ? { reason, reference } : { reason }));
  },
  async releaseHold(caseId: string): Promise<void> {
    await call("DELETE", `${kase(caseId)}/legal-hold`);
  },
};

/**
 * A case id as the server issues them (a UUID), typed, or pasted alone or as the address of the
 * case's page (…/#/cases/ID); surrounding spaces and letter case do not matter.
 */
export function caseRefOf(input: string): string | null {
  const s = input.trim().toLowerCase();
  const m = /^(?:.*#\/cases\/)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(s);
  return m ? m[1]! : null;
}

/** The organisation minimum as typed: a whole number of years from 0 to 100, or an error. */
export function minYearsOf(input: string): { years: number } | { error: string } {
  const s = input.trim();
  if (s.length === 0) return { error: "Enter the minimum number of years, from 0 to 100" };
  if (!/^[0-9]+$/.test(s)) return { error: "The minimum must be a whole number of years, like 10" };
  const years = Number(s);
  if (years > 100) return { error: "The minimum must be 100 years or fewer" };
  return { years };
}
