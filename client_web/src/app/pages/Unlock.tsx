import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import { Button, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import type { Session } from "../session";
import { openKeys, passwordKeys } from "../unlock";

/**
 * Unlock after the idle re-lock, while the server session is still valid: the password
 * re-derives the KEK from the KDF record in /me and unwraps the keys again.
 */
export function Unlock({ api, session, onUnlocked }: { api: Api; session: Session; onUnlocked: () => void }): JSX.Element {
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  usePageTitle("Unlock Dermline", errors.length > 0);

  async function submit(ev: Event) {
    ev.preventDefault();
    if (password.length === 0) {
      setErrors([{ field: "password", message: "Enter your password" }]);
      return;
    }
    setBusy(true);
    try {
      const me = await api.me();
      const k = await passwordKeys(me.kdfParams, password);
      session.unlock(await openKeys(me, k.kek));
      setPassword("");
      onUnlocked();
    } catch (e) {
      const message =
        e instanceof Error && e.name === "UskKekUnwrapError" ? "The password is not right. Check it and try again." : apiErrorMessage(e);
      setErrors([{ field: "password", message }]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <ErrorSummary errors={errors} />
      <h1>Unlock Dermline</h1>
      <p>Dermline locked itself because it was not used for a while. Your work is safe.</p>
      <form onSubmit={submit} noValidate>
        <TextInput id="password" label="Password" type="password" autocomplete="current-password" value={password} onInput={setPassword} error={errors[0]?.message ?? null} />
        <Button disabled={busy}>Unlock</Button>
      </form>
      <p>
        <a href="#/login">Sign in as someone else</a>
      </p>
    </>
  );
}
