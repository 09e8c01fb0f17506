import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, type Me, type Organisation, apiErrorMessage } from "../api";
import { buildNewCase, type ClinicalHistory } from "../cases";
import { uploadPhotos } from "../photos";
import { PhotoCapture, type PhotoDraft, draftsToSend, photoErrors } from "./PhotoField";
import { Button, Checkboxes, ErrorSummary, type FieldError, Radios, Select, TextInput, Textarea, usePageTitle } from "../components";
import { navigate } from "../router";
import type { Session } from "../session";
import { nhsNumberError, parseDateOfBirth } from "../validation";
import { type KeyCheck, type PinStore, blocked, changeWarning, observeRecordsKey } from "../pins";
import { SafetyNumberPanel } from "./SafetyNumber";
import { directoryPeople, logSource, verifyAnswer } from "../trust";

const SKIN_TYPES: [string, string][] = [
  ["", "Select skin type"],
  ["I", "Type I: always burns, never tans"],
  ["II", "Type II: usually burns, tans minimally"],
  ["III", "Type III: sometimes burns, tans uniformly"],
  ["IV", "Type IV: burns minimally, always tans"],
  ["V", "Type V: very rarely burns, tans very easily"],
  ["VI", "Type VI: never burns"],
];

/**
 * A GP's new case with the minimum clinical dataset (DESIGN.md section 2). The NHS number is
 * checked (modulus 11) as it is typed; every field is encrypted on this device before sending.
 */
export function NewCase({ api, me, session, pins }: { api: Api; me: Me; session: Session; pins: PinStore }): JSX.Element {
  const [services, setServices] = useState<Organisation[]>([]);
  const [practice, setPractice] = useState<Organisation | null>(null);
  const [f, setF] = useState({
    nhs: "",
    name: "",
    dob: "",
    sex: "",
    bodySite: "",
    duration: "",
    changes: new Set<string>(),
    symptoms: new Set<string>(),
    previousCancer: "",
    skinType: "",
    history: "",
    medicines: "",
    question: "",
    consent: "",
    priority: "routine",
    service: "",
  });
  const [nhsTouched, setNhsTouched] = useState(false);
  const [photos, setPhotos] = useState<PhotoDraft[]>([]);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  // Dermatologists whose keys changed since this device pinned them: nothing is sent to them
  // until the GP checks (one tap to the safety number, shown here so the form is kept).
  const [keyBlock, setKeyBlock] = useState<KeyCheck[]>([]);
  const [checking, setChecking] = useState<string | null>(null);
  usePageTitle(checking ? "Check security keys" : "Send a new case", errors.length > 0);
  const set = <K extends keyof typeof f>(k: K) => (v: (typeof f)[K]) => setF((old) => ({ ...old, [k]: v }));
  const err = (id: string) => errors.find((e) => e.field === id)?.message ?? null;

  useEffect(() => {
    api.organisations().then(
      (orgs) => {
        const svc = orgs.filter((o) => o.kind === "service");
        setServices(svc);
        if (svc.length === 1) setF((old) => ({ ...old, service: svc[0]!.orgId }));
        const gpOrg = (me.memberships ?? []).find((m) => m.role === "gp")?.orgId;
        setPractice(orgs.find((o) => o.orgId === gpOrg) ?? null);
      },
      (e) => setErrors([{ field: "service", message: apiErrorMessage(e) }]),
    );
  }, [api, me]);

  // As-typed check: once 10 digits are in, or the field was left, say what is wrong.
  const nhsDigits = f.nhs.replace(/[\s-]/g, "");
  const nhsLive = nhsTouched || nhsDigits.length >= 10 ? nhsNumberError(f.nhs) : null;

  function validate(): FieldError[] {
    const out: FieldError[] = [];
    const add = (field: string, message: string | null) => message && out.push({ field, message });
    add("nhs", nhsNumberError(f.nhs));
    add("name", f.name.trim() ? null : "Enter the patient's full name");
    add("dob", parseDateOfBirth(f.dob) ? null : "Enter the patient's date of birth as day, month and year, like 15 3 1984");
    add("sex", f.sex ? null : "Select the patient's sex");
    add("body-site", f.bodySite.trim() ? null : "Enter where the lesion is on the body");
    add("duration", f.duration.trim() ? null : "Enter how long the patient has had it");
    add("previous-cancer", f.previousCancer ? null : "Select whether the patient has had skin cancer before");
    add("skin-type", f.skinType ? null : "Select the patient's skin type");
    add("question", f.question.trim() ? null : "Enter your question for the dermatologist");
    add("consent", f.consent ? null : "Select whether the patient consents to photographs");
    add("service", f.service ? null : "Select the dermatology service");
    if (f.consent !== "no") out.push(...photoErrors("photos", photos));
    return out;
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    setNhsTouched(true);
    const found = validate();
    setErrors(found);
    if (found.length > 0) return;
    const keys = session.unlocked;
    if (!keys) {
      navigate({ name: "unlock" });
      return;
    }
    if (!practice?.recordsPublicKey) {
      setErrors([{ field: "service", message: "Your practice has no records key yet. Ask your records officer to set it up." }]);
      return;
    }
    setBusy(true);
    try {
      const answer = await api.directoryAnswer(f.service);
      const isDerm = (p: { roles: { orgId: string; role: string }[] }) => p.roles.some((r) => r.orgId === f.service && r.role === "dermatologist");
      const dermatologists = answer.members.filter(isDerm);
      if (dermatologists.length === 0) {
        setErrors([{ field: "service", message: "This service has no dermatologists yet. Choose another service." }]);
        return;
      }
      // Every key wrapped to must be in the transparency log as its rules require
      // (src/app/transparency.ts); the service's organisation key is pinned on first use.
      const log = logSource(api);
      const svc = await verifyAnswer(pins, log, { treeHead: answer.treeHead, orgs: answer.org ? [answer.org] : [], people: directoryPeople(answer, f.service, isDerm), removals: answer.removals });
      const refuse = svc.hardStop ?? (svc.unlogged.length > 0 ? svc.unlogged.map((u) => u.message).join(" ") : null);
      if (refuse) {
        setErrors([{ field: "service", message: refuse }]);
        return;
      }
      // Pin on first use (silently), stop on a changed key (docs/protocol.md section 18).
      const checks = await pins.observe(
        dermatologists.map((d) => ({
          userId: d.userId,
          name: d.displayName,
          signingPublicKey: d.signingPublicKey,
          encryptionPublicKey: d.encryptionPublicKey,
          certifiedBy: svc.certifiedBy.get(d.userId) ?? null,
        })),
      );
      const stop = blocked(checks);
      setKeyBlock(stop);
      if (stop.length > 0) return;
      // The practice's records key: the newest of its certified chain from the pin (the
      // administrators in the practice directory are the approvers of a two-person change), or
      // a legacy key pinned on first use and never replaced without a chain.
      const mine = await api.directoryAnswer(practice.orgId);
      const prac = await verifyAnswer(pins, log, {
        treeHead: mine.treeHead,
        orgs: mine.org ? [mine.org] : [],
        people: directoryPeople(mine, practice.orgId, (p) => p.roles.some((r) => r.orgId === practice.orgId && r.role === "admin")),
        removals: [],
        recordsKeys: true,
      });
      let recordsKey = practice.recordsPublicKey;
      const recordsRefusal =
        "Your practice's records key has changed and the change is not certified by your organisation. Dermline will not send a case until this is resolved. Tell your practice administrator.";
      if (prac.hardStop) {
        setErrors([{ field: "service", message: prac.hardStop }]);
        return;
      }
      if (prac.verified) {
        const checked = prac.records.get(practice.orgId);
        if (!checked) {
          setErrors([{ field: "service", message: prac.recordsProblems.get(practice.orgId) ?? recordsRefusal }]);
          return;
        }
        recordsKey = checked.publicKey;
      } else {
        const legacy = recordsKey;
        if ((await pins.update((p, now) => observeRecordsKey(p, practice.orgId, legacy, null, now))) === "changed") {
          setErrors([{ field: "service", message: recordsRefusal }]);
          return;
        }
      }
      const optional = (k: "relevant_history" | "medicines", v: string) => (v.trim() ? { [k]: v.trim() } : {});
      const history: ClinicalHistory = {
        patient: { nhs_number: nhsDigits, name: f.name.trim(), date_of_birth: parseDateOfBirth(f.dob)!, sex: f.sex },
        body_site: f.bodySite.trim(),
        duration: f.duration.trim(),
        changes: { size: f.changes.has("size"), shape: f.changes.has("shape"), colour: f.changes.has("colour") },
        symptoms: {
          itch: f.symptoms.has("itch"),
          bleeding: f.symptoms.has("bleeding"),
          scaling: f.symptoms.has("scaling"),
          soreness: f.symptoms.has("soreness"),
        },
        previous_skin_cancer: f.previousCancer === "yes",
        skin_type: f.skinType,
        ...optional("relevant_history", f.history),
        ...optional("medicines", f.medicines),
        question: f.question.trim(),
        consent_to_photography: f.consent === "yes",
      };
      const chosen = f.consent === "no" ? [] : await draftsToSend(photos);
      const made = await buildNewCase(keys, {
        practiceId: practice.orgId,
        recordsPublicKey: recordsKey,
        serviceId: f.service,
        dermatologists,
        priority: f.priority === "urgent" ? "urgent" : "routine",
        history,
        photos: chosen,
      });
      await api.createCase(made.request);
      await api.sendMessage(made.request.caseId, made.firstMessage.clientMsgId, made.firstMessage.envelope);
      // Ciphertext first (thumbnails, then photos; retried on network failure), then the
      // references, so a reader never sees a reference to a missing attachment.
      await uploadPhotos((id, rec, sha) => api.uploadAttachment(made.request.caseId, id, rec, sha), made.uploads);
      for (const m of made.photoMessages) {
        await api.sendMessage(made.request.caseId, m.clientMsgId, m.envelope);
      }
      await api.move(made.request.caseId, "submit");
      navigate({ name: "case", caseId: made.request.caseId });
    } catch (e) {
      setErrors([{ field: "service", message: apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  const keys = session.unlocked;
  if (checking && keys) {
    return (
      <>
        <a
          class="nhsuk-back-link"
          href="#/cases/new"
          onClick={(e) => {
            e.preventDefault();
            setChecking(null);
          }}
        >
          Back to the new case
        </a>
        <SafetyNumberPanel
          pins={pins}
          keys={keys}
          userId={checking}
          onDone={() => setKeyBlock((old) => old.filter((c) => c.userId !== checking))}
        />
      </>
    );
  }
  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>Send a new case</h1>
      {keyBlock.map((c) => (
        <div key={c.userId} class="nhsuk-warning-callout" data-testid="key-change-warning">
          <h2 class="nhsuk-warning-callout__label">
            <span>
              <span class="nhsuk-u-visually-hidden">Important: </span>
              Security keys changed
            </span>
          </h2>
          <p>{changeWarning(c)}</p>
          <button type="button" class="nhsuk-button nhsuk-button--secondary" data-testid="check-safety-number" onClick={() => setChecking(c.userId)}>
            Check {c.name}'s safety number
          </button>
        </div>
      ))}
      <p>Everything you enter is encrypted on this device. Only the dermatologists and your practice's records can read it.</p>
      <form onSubmit={submit} noValidate>
        <h2>Patient</h2>
        <div onBlur={() => setNhsTouched(true)}>
          <TextInput id="nhs" label="NHS number" hint="10 digits, for example 943 476 5919" inputMode="numeric" width={10} value={f.nhs} onInput={set("nhs")} error={err("nhs") ?? nhsLive} />
        </div>
        <TextInput id="name" label="Full name" autocomplete="off" value={f.name} onInput={set("name")} error={err("name")} />
        <TextInput id="dob" label="Date of birth" hint="For example, 15 3 1984" inputMode="numeric" width={10} value={f.dob} onInput={set("dob")} error={err("dob")} />
        <Radios id="sex" legend="Sex" options={[["female", "Female"], ["male", "Male"], ["other", "Other or not known"]]} value={f.sex} onChange={set("sex")} error={err("sex")} />
        <h2>The skin problem</h2>
        <TextInput id="body-site" label="Body site" hint="For example, left forearm" value={f.bodySite} onInput={set("bodySite")} error={err("body-site")} />
        <TextInput id="duration" label="How long has the patient had it?" hint="For example, 6 weeks" value={f.duration} onInput={set("duration")} error={err("duration")} />
        <Checkboxes id="changes" legend="Has it changed?" hint="Select all that apply" options={[["size", "Size"], ["shape", "Shape"], ["colour", "Colour"]]} value={f.changes} onChange={set("changes")} />
        <Checkboxes id="symptoms" legend="Symptoms" hint="Select all that apply" options={[["itch", "Itch"], ["bleeding", "Bleeding"], ["scaling", "Scaling"], ["soreness", "Soreness"]]} value={f.symptoms} onChange={set("symptoms")} />
        <Radios id="previous-cancer" legend="Has the patient had skin cancer before?" options={[["yes", "Yes"], ["no", "No"]]} inline value={f.previousCancer} onChange={set("previousCancer")} error={err("previous-cancer")} />
        <Select id="skin-type" label="Skin type (Fitzpatrick)" options={SKIN_TYPES} value={f.skinType} onChange={set("skinType")} error={err("skin-type")} />
        <Textarea id="history" label="Relevant history (optional)" value={f.history} onInput={set("history")} />
        <Textarea id="medicines" label="Medicines (optional)" value={f.medicines} onInput={set("medicines")} />
        <h2>Photos</h2>
        <p>Photos are prepared and encrypted on this device. Location data and other hidden details are removed first.</p>
        {f.consent !== "no" && (
          <>
            <PhotoCapture id="photos" drafts={photos} onChange={setPhotos} defaultBodySite={f.bodySite.trim()} errors={errors} />
          </>
        )}
        <h2>Your request</h2>
        <Textarea id="question" label="Your question for the dermatologist" value={f.question} onInput={set("question")} error={err("question")} />
        <Radios id="consent" legend="Does the patient consent to photographs of the skin?" options={[["yes", "Yes"], ["no", "No"]]} inline value={f.consent} onChange={set("consent")} error={err("consent")} />
        <Radios id="priority" legend="Priority" options={[["routine", "Routine"], ["urgent", "Urgent"]]} inline value={f.priority} onChange={set("priority")} />
        <Select id="service" label="Dermatology service" options={[["", "Select a service"], ...services.map((s): [string, string] => [s.orgId, s.name])]} value={f.service} onChange={set("service")} error={err("service")} />
        <Button disabled={busy}>{busy ? "Encrypting and sending…" : "Send case"}</Button>
      </form>
    </>
  );
}
