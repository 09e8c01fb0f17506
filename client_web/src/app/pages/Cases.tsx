import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, type CaseSummary, type Me, apiErrorMessage } from "../api";
import { Button, usePageTitle } from "../components";
import type { Realtime } from "../realtime";

const STATE_TAGS: Record<string, [string, string]> = {
  draft: ["Draft", "nhsuk-tag--grey"],
  submitted: ["Waiting for dermatology", "nhsuk-tag--blue"],
  in_review: ["In review", "nhsuk-tag--purple"],
  awaiting_gp: ["Waiting for GP", "nhsuk-tag--orange"],
  closed: ["Closed", "nhsuk-tag--green"],
  withdrawn: ["Withdrawn", "nhsuk-tag--grey"],
};

export function StateTag({ state }: { state: string }): JSX.Element {
  const [text, cls] = STATE_TAGS[state] ?? [state, "nhsuk-tag--grey"];
  return <strong class={`nhsuk-tag ${cls}`}>{text}</strong>;
}

function CaseTable({ cases, caption }: { cases: CaseSummary[]; caption: string }): JSX.Element {
  return (
    <table class="nhsuk-table-responsive">
      <caption class="nhsuk-table__caption">{caption}</caption>
      <thead class="nhsuk-table__head">
        <tr>
          <th scope="col">Case</th>
          <th scope="col">Priority</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody class="nhsuk-table__body">
        {cases.map((c) => (
          <tr class="nhsuk-table__row" key={c.caseId}>
            <td class="nhsuk-table__cell">
              <span class="nhsuk-table-responsive__heading" aria-hidden="true">Case </span>
              <a class="dl-target" href={`#/cases/${c.caseId}`}>Case {c.caseId.slice(0, 8)}</a>
            </td>
            <td class="nhsuk-table__cell">
              <span class="nhsuk-table-responsive__heading" aria-hidden="true">Priority </span>
              {c.priority === "urgent" ? "Urgent" : "Routine"}
            </td>
            <td class="nhsuk-table__cell">
              <span class="nhsuk-table-responsive__heading" aria-hidden="true">Status </span>
              <StateTag state={c.state} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** My cases (GP and dermatologist) and, for dermatologists, the service triage queue. */
export function Cases({ api, me, realtime, onLogout }: { api: Api; me: Me; realtime: Realtime; onLogout: () => void }): JSX.Element {
  usePageTitle("Your cases");
  const [mine, setMine] = useState<CaseSummary[] | null>(null);
  const [queue, setQueue] = useState<CaseSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isGp = (me.memberships ?? []).some((m) => m.role === "gp");
  const services = (me.memberships ?? []).filter((m) => m.role === "dermatologist").map((m) => m.orgId);

  const serviceKey = services.join(",");
  useEffect(() => {
    const load = () => {
      api.myCases().then(setMine, (e) => setError(apiErrorMessage(e)));
      if (services.length > 0) {
        Promise.all(services.map((s) => api.queue(s))).then(
          (qs) => setQueue(qs.flat()),
          (e) => setError(apiErrorMessage(e)),
        );
      }
    };
    load();
    // Live updates: any case or queue change re-reads the lists (no reload needed).
    const offCase = realtime.on("case", load);
    const offQueue = realtime.on("queue", load);
    return () => {
      offCase();
      offQueue();
    };
  }, [api, realtime, serviceKey]);

  return (
    <>
      <h1>Your cases</h1>
      <p data-testid="signed-in">
        Signed in as {me.displayName}. Your keys are unlocked on this device.
      </p>
      {error && <p class="nhsuk-error-message">{error}</p>}
      {isGp && (
        <a class="nhsuk-button" href="#/cases/new" role="button" draggable={false}>
          Send a new case
        </a>
      )}
      {queue !== null && (queue.length ? <CaseTable cases={queue} caption="Triage queue" /> : <p>The triage queue is empty.</p>)}
      {mine === null ? <p>Loading your cases…</p> : mine.length ? <CaseTable cases={mine} caption="Cases you take part in" /> : <p>You have no cases yet.</p>}
      <Button type="button" secondary onClick={onLogout}>
        Sign out
      </Button>
    </>
  );
}
