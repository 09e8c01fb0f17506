/**
 * Create a dermatology service (POST /api/v1/orgs, kind "service"). A service needs no records
 * key: case keys are wrapped to the referring practice's records key (docs/protocol.md).
 * The creator becomes an administrator of the new service.
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Api, Organisation } from "../api";
import { BackLink, Button, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import { Panel, adminErrorMessage, orgNameError } from "./AdminCommon";

export function AdminService({ api }: { api: Api }): JSX.Element {
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Organisation | null>(null);
  usePageTitle(created ? "Dermatology service created" : "Create a dermatology service", errors.length > 0);

  async function submit(ev: Event) {
    ev.preventDefault();
    const e = orgNameError(name, "service");
    if (e) {
      setErrors([{ field: "service-name", message: e }]);
      return;
    }
    setErrors([]);
    setBusy(true);
    try {
      setCreated(await api.createOrganisation("service", name.trim(), null));
    } catch (x) {
      setErrors([{ field: "service-name", message: adminErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  if (created) {
    return (
      <>
        <h1>Dermatology service created</h1>
        <Panel title={created.name} testId="service-created">
          <p>You are an administrator of this service. Invite its dermatologists next.</p>
        </Panel>
        <div class="nhsuk-button-group">
          <a class="nhsuk-button" href={`#/admin/orgs/${created.orgId}/invite`} role="button" draggable={false}>
            Invite a dermatologist
          </a>
          <a class="nhsuk-button nhsuk-button--secondary" href="#/admin" role="button" draggable={false}>
            Back to administration
          </a>
        </div>
      </>
    );
  }
  return (
    <>
      <BackLink href="#/admin">Back to administration</BackLink>
      <ErrorSummary errors={errors} />
      <h1>Create a dermatology service</h1>
      <p>GPs in every practice can send cases to a dermatology service. Its dermatologists work the triage queue.</p>
      <form onSubmit={submit} noValidate>
        <TextInput id="service-name" label="Name of the dermatology service" hint="For example, City Hospital Dermatology" value={name} onInput={setName} error={errors[0]?.message ?? null} spellcheck />
        <Button disabled={busy}>{busy ? "Creating…" : "Create service"}</Button>
      </form>
    </>
  );
}
