/**
 * #/admin/orgs/ORG/retention: records retention for the organisation's records officers
 * (docs/api.md "Retention and legal holds", docs/operations.md "Retention"): the minimum
 * period that lengthens every case's retention, the cases on legal hold (release one after
 * a confirmation), and one case found by its reference: where it stands and a hold placed
 * with a reason and the officer's own reference. The server checks every request again
 * (records officers of the case's practice or service only).
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiError, type Me, type Organisation } from "../api";
import { BackLink, Button, ErrorSummary, type FieldError, Radios, TextInput, usePageTitle } from "../components";
import {
  type CaseRetention,
  HOLD_REASON_LABELS,
  HOLD_REASONS,
  type HoldReason,
  type LegalHold,
  type OrgRetention,
  caseRefOf,
  minYearsOf,
  recordsApi,
} from "../records";
import { LoadError, adminErrorMessage, kindLabel } from "./AdminCommon";

const day = (iso: string): string => new Date(iso).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

const BASIS_TEXT: Record<string, string> = {
  client_date: "The retention date the closing clinician's device worked out from the patient's age",
  no_client_date: "The adult period: no retention date was sent when the case closed",
  organisation_minimum: "This organisation's minimum retention period",
};

/** Text for a refused retention request. */
function recordsErrorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === "forbidden") return "Only records officers of this organisation can do this.";
    if (e.code === "not_found") return "No case with this reference was found in your organisations. Check the reference and try again.";
    if (e.code === "conflict") return "The case is on legal hold already, or has been disposed of. Find it again to see where it stands.";
  }
  return adminErrorMessage(e);
}

/** The organisations in which the signed-in person is a records officer, by name. */
export function useRecordsOrgs(api: Api, me: Me): { orgs: Organisation[] | null; error: string | null } {
  const [orgs, setOrgs] = useState<Organisation[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const mine = new Set((me.memberships ?? []).filter((m) => m.role === "records_officer").map((m) => m.orgId));
    api.organisations().then(
      (all) => setOrgs(all.filter((o) => mine.has(o.orgId)).sort((a, b) => a.name.localeCompare(b.name))),
      (e) => setError(adminErrorMessage(e)),
    );
  }, [api, me]);
  return { orgs, error };
}

/** The list of the records officer's organisations, each linking to its retention page. */
export function RecordsOrgs({ api, me }: { api: Api; me: Me }): JSX.Element | null {
  const { orgs, error } = useRecordsOrgs(api, me);
  if (!(me.memberships ?? []).some((m) => m.role === "records_officer")) return null;
  return (
    <>
      <h2>Records retention and legal holds</h2>
      <LoadError message={error} />
      {orgs === null ? (
        !error && <p>Loading your organisations…</p>
      ) : (
        <ul class="nhsuk-list" data-testid="records-orgs">
          {orgs.map((o) => (
            <li key={o.orgId}>
              <a class="dl-target" href={`#/admin/orgs/${o.orgId}/retention`}>
                {o.name}
              </a>{" "}
              ({kindLabel(o.kind)})
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function AdminRetention({ api, me, orgId }: { api: Api; me: Me; orgId: string }): JSX.Element {
  const { orgs } = useRecordsOrgs(api, me);
  const org = orgs?.find((o) => o.orgId === orgId) ?? null;
  const [policy, setPolicy] = useState<OrgRetention | null>(null);
  const [holds, setHolds] = useState<LegalHold[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [years, setYears] = useState("");
  const [caseRef, setCaseRef] = useState("");
  const [found, setFound] = useState<CaseRetention | null>(null);
  const [reason, setReason] = useState("");
  const [reference, setReference] = useState("");
  const [releasing, setReleasing] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const statusRef = useRef<HTMLDivElement>(null);
  const confirmRef = useRef<HTMLHeadingElement>(null);
  usePageTitle(org ? `Records retention: ${org.name}` : "Records retention", errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  const reload = () =>
    Promise.all([recordsApi.minimum(orgId), recordsApi.holds(orgId)]).then(
      ([p, h]) => {
        setPolicy(p);
        setHolds(h);
        setYears((y) => (y === "" ? String(p.minYears) : y));
      },
      (e) => setLoadError(recordsErrorMessage(e)),
    );
  useEffect(() => void reload(), [orgId]);
  useEffect(() => {
    if (status) statusRef.current?.focus();
  }, [status]);
  useEffect(() => {
    if (releasing) confirmRef.current?.focus();
  }, [releasing]);

  async function act(field: string, f: () => Promise<string>) {
    setBusy(true);
    setStatus("");
    try {
      const done = await f();
      setErrors([]);
      setStatus(done);
    } catch (e) {
      setErrors([{ field, message: recordsErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  function saveMinimum(ev: Event) {
    ev.preventDefault();
    const r = minYearsOf(years);
    if ("error" in r) {
      setErrors([{ field: "min-years", message: r.error }]);
      return;
    }
    void act("min-years", async () => {
      const p = await recordsApi.setMinimum(orgId, r.years);
      setPolicy(p);
      return p.minYears === 0
        ? "No minimum now: cases are kept for the national periods."
        : `Cases of this organisation are now kept at least ${p.minYears} years after they close.`;
    });
  }

  function findCase(ev: Event) {
    ev.preventDefault();
    const id = caseRefOf(caseRef);
    if (id === null) {
      setErrors([{ field: "case-ref", message: "Enter the case reference: 36 letters, numbers and dashes, like 1b4e28ba-2fa1-11d2-883f-0016d3cca427" }]);
      return;
    }
    setFound(null);
    void act("case-ref", async () => {
      setFound(await recordsApi.caseStatus(id));
      setReason("");
      setReference("");
      return "";
    });
  }

  function placeHold(ev: Event) {
    ev.preventDefault();
    if (!found) return;
    const found2: FieldError[] = [];
    if (!(HOLD_REASONS as readonly string[]).includes(reason)) found2.push({ field: "hold-reason", message: "Select why the case must be kept" });
    if ([...reference.trim()].length > 200) found2.push({ field: "hold-reference", message: "Your reference must be 200 characters or fewer" });
    if (found2.length) {
      setErrors(found2);
      return;
    }
    void act("hold-reason", async () => {
      await recordsApi.placeHold(found.caseId, reason as HoldReason, reference.trim() || null);
      setFound(await recordsApi.caseStatus(found.caseId));
      await reload();
      return `Case ${found.caseId} is on legal hold. It will not be disposed of until the hold is released.`;
    });
  }

  function release(caseId: string) {
    void act("holds-heading", async () => {
      await recordsApi.releaseHold(caseId);
      setReleasing(null);
      if (found?.caseId === caseId) setFound(await recordsApi.caseStatus(caseId));
      await reload();
      return `The legal hold on case ${caseId} is released. The case will be disposed of when its retention period ends.`;
    });
  }

  const canHold = found !== null && found.hold === null && found.disposedAt === null;
  return (
    <>
      <BackLink href="#/admin">Back to administration</BackLink>
      <ErrorSummary errors={errors} />
      <h1>Records retention{org ? `: ${org.name}` : ""}</h1>
      <p>
        Dermline keeps each closed case for as long as the Records Management Code of Practice says: 8 years after it closes for an adult; for a child, until their
        25th birthday (26th if they were 17 when it closed). The clinician's device works this out from the date of birth when it closes the case. Then the
        case is disposed of, unless it is on legal hold.
      </p>
      <LoadError message={loadError} />
      <div role="status" aria-live="polite" tabIndex={-1} ref={statusRef} data-testid="records-status">
        {status && <p class="nhsuk-body nhsuk-u-font-weight-bold">{status}</p>}
      </div>

      <h2>Minimum retention period</h2>
      {policy && (
        <p data-testid="records-minimum">
          {policy.minYears === 0
            ? "No minimum is set: cases are kept for the national periods."
            : `Every case of this organisation is kept at least ${policy.minYears} years after it closes${policy.updatedAt ? ` (set on ${day(policy.updatedAt)})` : ""}.`}
        </p>
      )}
      <form onSubmit={saveMinimum} noValidate>
        <TextInput
          id="min-years"
          label="Minimum years after a case closes"
          hint="A whole number from 0 to 100. It only ever lengthens how long cases are kept; 0 removes the minimum."
          inputMode="numeric"
          width={10}
          value={years}
          onInput={setYears}
          error={err("min-years")}
        />
        <Button disabled={busy || policy === null}>Save minimum</Button>
      </form>

      <h2 id="holds-heading" tabIndex={-1}>
        Cases on legal hold
      </h2>
      {releasing && (
        <div class="nhsuk-inset-text" data-testid="release-confirm">
          <h3 class="nhsuk-heading-s" tabIndex={-1} ref={confirmRef}>
            Release the legal hold on case {releasing}?
          </h3>
          <p>The case will then be disposed of when its retention period ends, which may be straight away.</p>
          <div class="nhsuk-button-group">
            <Button type="button" disabled={busy} onClick={() => release(releasing)}>
              Yes, release the hold
            </Button>
            <Button type="button" secondary onClick={() => setReleasing(null)}>
              No, keep the hold
            </Button>
          </div>
        </div>
      )}
      {holds === null ? (
        !loadError && <p>Loading legal holds…</p>
      ) : holds.length === 0 ? (
        <p data-testid="holds-empty">No case of this organisation is on legal hold.</p>
      ) : (
        <table class="nhsuk-table-responsive" data-testid="holds">
          <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">Cases on legal hold, oldest first</caption>
          <thead class="nhsuk-table__head">
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Reason</th>
              <th scope="col">Placed</th>
              <th scope="col">Your reference</th>
              <th scope="col">
                <span class="nhsuk-u-visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody class="nhsuk-table__body">
            {holds.map((h) => (
              <tr class="nhsuk-table__row" key={h.caseId} data-testid="hold">
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Case </span>
                  <span class="dl-break">{h.caseId}</span>
                </td>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Reason </span>
                  {HOLD_REASON_LABELS[h.reason]}
                </td>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Placed </span>
                  {day(h.placedAt)}
                  {h.placedBy === me.userId ? " by you" : ""}
                </td>
                <td class="nhsuk-table__cell">
                  <span class="nhsuk-table-responsive__heading" aria-hidden="true">Your reference </span>
                  {h.reference ?? "None"}
                </td>
                <td class="nhsuk-table__cell">
                  <button type="button" class="dl-link-button" aria-label={`Release the hold on case ${h.caseId}`} onClick={() => setReleasing(h.caseId)}>
                    Release
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>Find a case</h2>
      <form onSubmit={findCase} noValidate>
        <TextInput
          id="case-ref"
          label="Case reference"
          hint="The end of the address of the case's page (after #/cases/), or from the audit export. You can paste the whole address."
          value={caseRef}
          onInput={setCaseRef}
          error={err("case-ref")}
        />
        <Button secondary disabled={busy}>
          Find case
        </Button>
      </form>
      {found && (
        <>
          <dl class="nhsuk-summary-list" data-testid="case-retention">
            <Row k="Case">{found.caseId}</Row>
            <Row k="State">{found.disposedAt ? "Disposed of" : found.keepUntil ? "Closed" : "Open: its retention period starts when it closes"}</Row>
            <Row k="Retention date sent when it closed">{found.retainUntil ? day(found.retainUntil) : "None"}</Row>
            {found.keepUntil && <Row k="May be disposed of from">{day(found.keepUntil)}</Row>}
            {found.basis && <Row k="Because of">{BASIS_TEXT[found.basis] ?? found.basis}</Row>}
            <Row k="Legal hold">{found.hold ? `${HOLD_REASON_LABELS[found.hold.reason]}, since ${day(found.hold.placedAt)}` : "None"}</Row>
            {found.disposedAt && <Row k="Disposed of on">{day(found.disposedAt)}</Row>}
          </dl>
          {found.hold && !found.disposedAt && (
            <Button type="button" secondary onClick={() => setReleasing(found.caseId)}>
              Release this hold
            </Button>
          )}
          {canHold && (
            <form onSubmit={placeHold} noValidate>
              <h3>Place a legal hold</h3>
              <Radios
                id="hold-reason"
                legend="Why must this case be kept?"
                options={HOLD_REASONS.map((r): [string, string] => [r, HOLD_REASON_LABELS[r]])}
                value={reason}
                onChange={setReason}
                error={err("hold-reason")}
              />
              <TextInput
                id="hold-reference"
                label="Your reference (optional)"
                hint="For example a claim or complaint number, up to 200 characters. It is stored encrypted and never written to the audit log."
                value={reference}
                onInput={setReference}
                error={err("hold-reference")}
              />
              <Button disabled={busy}>Place legal hold</Button>
            </form>
          )}
        </>
      )}
    </>
  );
}

function Row({ k, children }: { k: string; children: string | JSX.Element }): JSX.Element {
  return (
    <div class="nhsuk-summary-list__row">
      <dt class="nhsuk-summary-list__key">{k}</dt>
      <dd class="nhsuk-summary-list__value">{children}</dd>
    </div>
  );
}
