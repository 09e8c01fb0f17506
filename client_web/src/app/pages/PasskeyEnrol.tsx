import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import { Button, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import { unwrapUskWithKek } from "../cryptoFacade";
import { type CeremonyResult, createPasskey, passkeyApi, passkeyErrorMessage, wrapForPasskey } from "../passkeys";

/**
 * "Add a passkey to finish signing in" (docs/architecture.md "Passkeys", the transition): a
 * person under their organisation's passkey requirement who has no passkey yet registers one
 * with the pending session, after the password and the security code, whether signing in or
 * accepting an invitation. The registration finishes signing in; then the password's KEK
 * opens the USK and the PRF output of the same ceremony wraps it (record 0x11), so this
 * passkey can unlock next time. Without PRF the passkey is a second factor only.
 */
export function PasskeyEnrol({ api, kek, caption, onDone }: { api: Api; kek: CryptoKey; caption?: string; onDone: () => Promise<void> | void }): JSX.Element {
  const [name, setName] = useState("My phone");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  usePageTitle("Add a passkey to finish signing in", errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  async function enrol(ev: Event) {
    ev.preventDefault();
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) {
      setErrors([{ field: "passkey-name", message: "Enter a name for the passkey, for example “Work phone”" }]);
      return;
    }
    setErrors([]);
    setBusy(true);
    let result: CeremonyResult | null = null;
    try {
      result = await createPasskey(await passkeyApi.registrationOptions());
      const { passkey } = await passkeyApi.register(result.credential, trimmed, null);
      const me = await api.me(); // signed in now
      const usk = await unwrapUskWithKek(me.wrappedUsk, kek, me.userId);
      try {
        const wrap = await wrapForPasskey(usk, me.userId, result);
        if (wrap) await passkeyApi.setUnlock(passkey.passkeyId, wrap);
      } finally {
        usk.fill(0);
      }
      await onDone();
    } catch (e) {
      result?.prfOutput?.fill(0);
      setErrors([{ field: "passkey-name", message: passkeyErrorMessage(e) ?? apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <ErrorSummary errors={errors} />
      {caption && <span class="nhsuk-caption-l">{caption}</span>}
      <h1>Add a passkey to finish signing in</h1>
      <p>Your organisation requires a passkey. It lets you sign in with your phone’s fingerprint, face or screen lock, and it cannot be used on a fake website.</p>
      <form onSubmit={enrol} noValidate>
        <TextInput id="passkey-name" label="Name for this passkey" hint="For example “Work phone”" value={name} onInput={setName} error={err("passkey-name")} />
        <Button disabled={busy}>{busy ? "Adding passkey…" : "Add passkey"}</Button>
      </form>
    </>
  );
}
