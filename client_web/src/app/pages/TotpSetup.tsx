import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import { Button, ErrorSummary, type FieldError, TextInput, WarningCallout, usePageTitle } from "../components";
import { totpCodeError } from "../validation";

/** The base32 secret of an otpauth:// URI, in groups of 4 for typing. */
export function secretOf(uri: string): string {
  try {
    const s = new URL(uri).searchParams.get("secret") ?? "";
    return s.replace(/(.{4})/g, "$1 ").trim();
  } catch {
    return "";
  }
}

/**
 * The server's QR SVG as an <img> data URL. An <img> never runs script inside the SVG (safer
 * than inserting markup); a standalone SVG needs its namespace, which segno's inline form
 * omits, so it is added when missing.
 */
export function qrDataUrl(svg: string): string {
  const withNs = /^<svg\b[^>]*\sxmlns=/.test(svg) ? svg : svg.replace(/^<svg\b/, '<svg xmlns="http://www.w3.org/2000/svg"');
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(withNs)}`;
}

/**
 * TOTP enrolment (pending session): QR code or typed key, then one code to confirm, then the
 * one-time recovery codes. Calls onDone when the person has saved the codes.
 */
export function TotpSetup({ api, onDone, caption }: { api: Api; onDone: () => void; caption?: string }): JSX.Element {
  const [enrolment, setEnrolment] = useState<{ otpauthUri: string; qrSvg: string } | null>(null);
  const [code, setCode] = useState("");
  const [codes, setCodes] = useState<string[] | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.enrolTotp().then(setEnrolment, (e) => setErrors([{ field: "code", message: apiErrorMessage(e) }]));
  }, [api]);

  async function confirm(ev: Event) {
    ev.preventDefault();
    const e = totpCodeError(code);
    if (e) {
      setErrors([{ field: "code", message: e }]);
      return;
    }
    setBusy(true);
    try {
      setCodes(await api.confirmTotp(code.replace(/\s/g, "")));
      setErrors([]);
    } catch (x) {
      setErrors([{ field: "code", message: apiErrorMessage(x) }]);
    } finally {
      setBusy(false);
    }
  }

  const head = (title: string) => (
    <>
      {caption && <span class="nhsuk-caption-l">{caption}</span>}
      <h1>{title}</h1>
    </>
  );
  usePageTitle(codes !== null ? "Save your recovery codes" : "Set up your authenticator app", errors.length > 0);
  if (codes !== null) {
    return (
      <>
        {head("Save your recovery codes")}
        <WarningCallout title="Keep these codes safe">
          <p>If you lose your phone, each code lets you sign in once instead of a security code.</p>
        </WarningCallout>
        <ul class="nhsuk-list dl-codes" aria-label="Recovery codes">
          {codes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
        <Button type="button" onClick={onDone}>
          I have saved my recovery codes
        </Button>
      </>
    );
  }
  return (
    <>
      <ErrorSummary errors={errors} />
      {head("Set up your authenticator app")}
      <p>Scan the QR code with an authenticator app, or type the key into it. Then enter the 6-digit code it shows.</p>
      {enrolment && (
        <>
          <img
            class="dl-qr"
            src={qrDataUrl(enrolment.qrSvg)}
            alt="QR code to add Dermline to your authenticator app"
            width={196}
            height={196}
          />
          <p>
            Key: <code class="dl-totp-key" data-testid="totp-key">{secretOf(enrolment.otpauthUri)}</code>
          </p>
        </>
      )}
      <form onSubmit={confirm} noValidate>
        <TextInput id="code" label="Security code" hint="The 6-digit code from your authenticator app" autocomplete="one-time-code" inputMode="numeric" width={10} value={code} onInput={setCode} error={errors[0]?.message ?? null} />
        <Button disabled={busy || enrolment === null}>Confirm</Button>
      </form>
    </>
  );
}
