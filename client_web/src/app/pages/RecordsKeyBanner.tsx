/**
 * "The practice records key changed on <date>, approved by A and B" (contract section 6): every
 * member of a practice sees a change of its records key. The chain is the one the log proves
 * (src/app/transparency.ts, checked from this device's pin); the date is the log's time of the
 * newest statement's entry and the approvers are the approval statements' signers, named from
 * the practice directory. A chain that does not verify is shown as a warning instead.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Api, DirectoryAnswer, Me } from "../api";
import { LogEntryType, StatementKind, parseLogEntry } from "../cryptoFacade";
import type { PinStore } from "../pins";
import { directoryPeople, logSource, verifyAnswer } from "../trust";

const listNames = (names: string[]) => (names.length <= 1 ? (names[0] ?? "") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`);

/** The sentence for the newest change of a verified chain (null for sequence 0: no change). */
export async function recordsKeyChangeText(answer: DirectoryAnswer, orgName: string): Promise<string | null> {
  const chain = answer.org?.recordsKeys ?? [];
  const newest = chain[chain.length - 1];
  if (!newest || chain.length < 2) return null;
  const entry = await parseLogEntry(newest.statement.entry);
  const when = new Date(entry.appendedAtMs).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
  const names: string[] = [];
  for (const a of newest.approvals) {
    const e = await parseLogEntry(a.entry);
    if (e.entryType === LogEntryType.STATEMENT && e.statement.kind === StatementKind.APPROVAL) {
      const id = e.statement.approverUserId;
      names.push(answer.members.find((m) => m.userId === id)?.displayName ?? "an administrator");
    }
  }
  return names.length > 0
    ? `The ${orgName} records key changed on ${when}, approved by ${listNames(names)}.`
    : `The ${orgName} records key changed on ${when}, signed with the previous records key (a planned change by its keeper).`;
}

export function RecordsKeyBanner({ api, me, pins }: { api: Api; me: Me; pins: PinStore }): JSX.Element | null {
  const [notes, setNotes] = useState<{ orgId: string; text: string; warning: boolean }[]>([]);
  useEffect(() => {
    let live = true;
    void (async () => {
      const orgs = await api.organisations().catch(() => []);
      const out: { orgId: string; text: string; warning: boolean }[] = [];
      for (const org of orgs.filter((o) => o.kind === "practice" && (me.memberships ?? []).some((m) => m.orgId === o.orgId))) {
        try {
          const answer = await api.directoryAnswer(org.orgId);
          if (!answer.treeHead) continue;
          const v = await verifyAnswer(pins, logSource(api), {
            treeHead: answer.treeHead,
            orgs: answer.org ? [answer.org] : [],
            people: directoryPeople(answer, org.orgId, (p) => p.roles.some((r) => r.orgId === org.orgId && r.role === "admin")),
            removals: [],
            recordsKeys: true,
          });
          const problem = v.hardStop ?? v.recordsProblems.get(org.orgId) ?? null;
          if (problem) out.push({ orgId: org.orgId, text: problem, warning: true });
          else {
            const text = await recordsKeyChangeText(answer, org.name);
            if (text) out.push({ orgId: org.orgId, text, warning: false });
          }
        } catch {
          // The banner is information beside the cases; a failure here changes nothing else.
        }
      }
      if (live) setNotes(out);
    })();
    return () => {
      live = false;
    };
  }, [api, me.userId, pins]);
  if (notes.length === 0) return null;
  return (
    <>
      {notes.map((n) =>
        n.warning ? (
          <div key={n.orgId} class="nhsuk-warning-callout" data-testid="records-key-warning">
            <h2 class="nhsuk-warning-callout__label">
              <span>
                <span class="nhsuk-u-visually-hidden">Important: </span>
                Records key
              </span>
            </h2>
            <p>{n.text}</p>
          </div>
        ) : (
          <div key={n.orgId} class="nhsuk-inset-text" data-testid="records-key-changed">
            <p>{n.text}</p>
          </div>
        ),
      )}
    </>
  );
}
