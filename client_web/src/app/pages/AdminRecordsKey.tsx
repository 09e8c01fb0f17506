/**
 * A GP practice and its records key, made in this browser (#/admin/practices/new), or the
 * records key of an existing practice that has none (#/admin/orgs/ORG/records-key).
 *
 * Why: every case key is also wrapped to the practice's records key, so a lost phone or a
 * forgotten password never makes a record unreadable; the server refuses a
 * case without that wrap (docs/api.md). The private part must never reach the server:
 *   1. the records officer types a passphrase (twice);
 *   2. the browser makes a P-256 key pair (WebCrypto), seals the private key into a records
 *      key file (type 0x09, docs/protocol.md section 12, PBKDF2 600,000: src/crypto/recordsKey.ts)
 *      and opens it again with the same passphrase, so the file offered is proven to open;
 *   3. the officer downloads the file and confirms it is saved; the fingerprint (the key id,
 *      8 groups of 4 hex digits, the same string `dermline-client records-key new|check`
 *      prints) lets them check later that a file is the right one;
 *   4. only then is the 65-byte PUBLIC key sent (POST /api/v1/orgs or PUT .../records-key).
 * The private scalar is overwritten in memory as soon as the file is sealed, and the download
 * URL is revoked when the page goes away.
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Api, Organisation } from "../api";
import { generateKeyPair, openRecordsKeyFile, sealRecordsKeyFile, toHex } from "../cryptoFacade";
import { equalBytes } from "../cryptoFacade";
import { BackLink, Button, Checkboxes, ErrorSummary, type FieldError, TextInput, WarningCallout, usePageTitle } from "../components";
import { MIN_PASSWORD_LENGTH } from "../validation";
import { LoadError, Panel, adminErrorMessage, orgNameError, useAdministered } from "./AdminCommon";

/** The records key id as people compare it, e.g. "1f0c 93ab ... 77d2" (client_py/cli.py). */
export function recordsKeyFingerprint(keyId: Uint8Array): string {
  return toHex(keyId).replace(/(.{4})(?=.)/g, "$1 ");
}

/** A file name from the practice name: "Riverside Surgery" -> "riverside-surgery-records.key". */
export function recordsKeyFileName(practice: string): string {
  const slug = practice
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);
  return `${slug || "practice"}-records.key`;
}

export function passphraseErrors(pass: string, again: string): FieldError[] {
  const out: FieldError[] = [];
  if (pass.length === 0) out.push({ field: "passphrase", message: "Enter a passphrase for the records key file" });
  else if ([...pass].length < MIN_PASSWORD_LENGTH) out.push({ field: "passphrase", message: `The passphrase must be ${MIN_PASSWORD_LENGTH} characters or more` });
  if (pass.length > 0 && again !== pass) out.push({ field: "passphrase-again", message: "The passphrases do not match. Enter the same passphrase twice" });
  return out;
}

export interface MadeKey {
  publicKey: Uint8Array;
  fingerprint: string;
  url: string;
  fileName: string;
}

/** Make, seal and re-open the records key; the private scalar is wiped before returning. */
export async function makeRecordsKey(passphrase: string, fileName: string): Promise<MadeKey> {
  const pair = await generateKeyPair();
  try {
    const sealed = await sealRecordsKeyFile(pair, passphrase);
    const reopened = await openRecordsKeyFile(sealed, passphrase);
    reopened.privateKey.fill(0);
    if (!equalBytes(reopened.publicKey, pair.publicKey)) throw new Error("records key file did not open");
    const url = URL.createObjectURL(new Blob([sealed as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }));
    return { publicKey: pair.publicKey, fingerprint: recordsKeyFingerprint(pair.keyId), url, fileName };
  } finally {
    pair.privateKey.fill(0);
  }
}

export function AdminRecordsKey({ api, orgId }: { api: Api; orgId: string | null }): JSX.Element {
  const existing = orgId !== null;
  const { data, error: loadError } = useAdministered(api);
  const org: Organisation | null = existing && data ? (data.orgs.find((o) => o.orgId === orgId) ?? null) : null;
  const [name, setName] = useState("");
  const [pass, setPass] = useState("");
  const [again, setAgain] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<MadeKey | null>(null);
  const [downloaded, setDownloaded] = useState(false);
  const [saved, setSaved] = useState(new Set<string>());
  const [created, setCreated] = useState<Organisation | null>(null);
  const urlRef = useRef<string | null>(null);
  useEffect(() => () => {
    if (urlRef.current) URL.revokeObjectURL(urlRef.current);
  }, []);

  const title = created
    ? existing
      ? "Records key set"
      : "GP practice created"
    : made
      ? "Save the records key file"
      : existing
        ? "Make the practice's records key"
        : "Create a GP practice";
  usePageTitle(title, errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;
  const practiceName = existing ? (org?.name ?? "") : name.trim();

  async function makeKey(ev: Event) {
    ev.preventDefault();
    const found: FieldError[] = [];
    if (!existing) {
      const e = orgNameError(name, "practice");
      if (e) found.push({ field: "practice-name", message: e });
    }
    found.push(...passphraseErrors(pass, again));
    setErrors(found);
    if (found.length > 0) return;
    setBusy(true);
    try {
      const m = await makeRecordsKey(pass, recordsKeyFileName(practiceName));
      urlRef.current = m.url;
      setMade(m);
      setPass("");
      setAgain("");
    } catch {
      setErrors([{ field: "passphrase", message: "This browser could not make the records key. Try again, or use another browser." }]);
    } finally {
      setBusy(false);
    }
  }

  async function finish(ev: Event) {
    ev.preventDefault();
    if (!made) return;
    const found: FieldError[] = [];
    if (!downloaded) found.push({ field: "download", message: "Download the records key file before you continue" });
    if (!saved.has("yes")) found.push({ field: "saved", message: "Confirm that the file and its passphrase are saved in 2 safe places" });
    setErrors(found);
    if (found.length > 0) return;
    setBusy(true);
    try {
      const o = existing ? await api.setRecordsKey(orgId, made.publicKey) : await api.createOrganisation("practice", practiceName, made.publicKey);
      setCreated(o);
      if (urlRef.current) URL.revokeObjectURL(urlRef.current);
      urlRef.current = null;
    } catch (x) {
      setErrors([{ field: "saved", message: adminErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  if (created && made) {
    return (
      <>
        <h1>{title}</h1>
        <Panel title={created.name} testId="practice-created">
          <p>
            Records key fingerprint: <span class="dl-totp-key">{made.fingerprint}</span>
          </p>
        </Panel>
        <p>GPs in this practice can now send cases. Invite the records officer who keeps the file, then the GPs.</p>
        <div class="nhsuk-button-group">
          <a class="nhsuk-button" href={`#/admin/orgs/${created.orgId}/invite`} role="button" draggable={false}>
            Invite people to this practice
          </a>
          <a class="nhsuk-button nhsuk-button--secondary" href="#/admin" role="button" draggable={false}>
            Back to administration
          </a>
        </div>
      </>
    );
  }

  if (made) {
    const downloadError = err("download");
    return (
      <>
        <ErrorSummary errors={errors} />
        <h1>{title}</h1>
        <p>
          The records key for <strong>{practiceName}</strong> was made on this device. The server never receives its private part: only this file can open the
          practice's records when a GP's account is lost.
        </p>
        <WarningCallout title="If the file or its passphrase is lost, records cannot be recovered">
          <p>
            Keep the file and its passphrase apart, each in at least 2 safe places (for example, an encrypted USB stick in the practice safe and a second copy
            off site). Without both, no one can recover this practice's case records when a GP loses their phone or forgets their password.
          </p>
        </WarningCallout>
        <h2 class="nhsuk-heading-s">Records key fingerprint</h2>
        <p class="dl-totp-key" data-testid="records-fingerprint">
          {made.fingerprint}
        </p>
        <p class="nhsuk-body-s">Write it down with the file. It lets you check later that a file is the right one.</p>
        <form onSubmit={finish} noValidate>
          <div class={`nhsuk-form-group${downloadError ? " nhsuk-form-group--error" : ""}`}>
            {downloadError && (
              <span class="nhsuk-error-message" id="download-error">
                <span class="nhsuk-u-visually-hidden">Error:</span> {downloadError}
              </span>
            )}
            <a
              id="download"
              class="nhsuk-button nhsuk-button--secondary"
              href={made.url}
              download={made.fileName}
              role="button"
              draggable={false}
              aria-describedby={downloadError ? "download-error" : undefined}
              onClick={() => setDownloaded(true)}
            >
              Download the records key file
            </a>
            {downloaded && (
              <p class="nhsuk-body-s" role="status">
                Downloaded as {made.fileName}.
              </p>
            )}
          </div>
          <Checkboxes
            id="saved"
            legend="Before you continue"
            options={[["yes", "I have saved the records key file and its passphrase in 2 safe places"]]}
            value={saved}
            onChange={setSaved}
            error={err("saved")}
          />
          <Button disabled={busy}>{busy ? "Saving…" : existing ? "Set the records key" : "Create the practice"}</Button>
        </form>
      </>
    );
  }

  if (existing && data && !org) {
    return (
      <>
        <BackLink href="#/admin">Back to administration</BackLink>
        <h1>{title}</h1>
        <LoadError message="You do not administer this practice, or it does not exist." />
      </>
    );
  }
  if (existing && org && (org.kind !== "practice" || org.recordsPublicKey)) {
    return (
      <>
        <BackLink href={`#/admin/orgs/${org.orgId}`}>Back to {org.name}</BackLink>
        <h1>{title}</h1>
        <p>{org.kind !== "practice" ? "Only GP practices have a records key." : "This practice already has a records key."}</p>
      </>
    );
  }
  return (
    <>
      <BackLink href={existing ? `#/admin/orgs/${orgId}` : "#/admin"}>Back</BackLink>
      <ErrorSummary errors={errors} />
      <h1>{title}</h1>
      <LoadError message={existing ? loadError : null} />
      {existing && !org ? (
        !loadError && <p>Loading…</p>
      ) : (
        <>
          <p>
            Every case a GP sends is also locked to the practice's records key, so that records are never lost with a phone or a password. This page makes the
            key on this device. Ask the practice's records officer to be with you: they choose the passphrase and keep the file.
          </p>
          <form onSubmit={makeKey} noValidate>
            {!existing && <TextInput id="practice-name" label="Name of the GP practice" hint="For example, Riverside Surgery" value={name} onInput={setName} error={err("practice-name")} spellcheck />}
            <TextInput
              id="passphrase"
              label="Passphrase for the records key file"
              hint={`${MIN_PASSWORD_LENGTH} characters or more. Use a passphrase only the records officer knows, not their account password.`}
              type="password"
              autocomplete="new-password"
              value={pass}
              onInput={setPass}
              error={err("passphrase")}
            />
            <TextInput id="passphrase-again" label="Enter the passphrase again" type="password" autocomplete="new-password" value={again} onInput={setAgain} error={err("passphrase-again")} />
            <Button disabled={busy}>{busy ? "Making the records key…" : "Make the records key"}</Button>
          </form>
        </>
      )}
    </>
  );
}
