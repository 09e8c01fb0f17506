import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, apiErrorMessage } from "../api";
import { Button, ErrorSummary, type FieldError, TextInput, usePageTitle } from "../components";
import { type PasskeyInfo, passkeyApi, passkeyErrorMessage, passkeysSupported, unlockByPasskey } from "../passkeys";
import type { Session } from "../session";
import { openKeys, passwordKeys } from "../unlock";

/**
 * Unlock while the server session is still valid (after the idle re-lock, or after a sign-in by
 * a passkey that cannot unlock): a passkey with a USK wrap (record 0x11) opens the keys with its
 * PRF output, or the password re-derives the KEK from the KDF record in /me.
 */
export function Unlock({ api, session, onUnlocked }: { api: Api; session: Session; onUnlocked: () => void }): JSX.Element {
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [unlockers, setUnlockers] = useState<PasskeyInfo[]>([]);
  usePageTitle("Unlock Dermline", errors.length > 0);
  useEffect(() => {
    if (!passkeysSupported()) return;
    passkeyApi.list().then(
      (list) => setUnlockers(list.filter((p) => p.prfWrap !== null)),
      () => setUnlockers([]), // no session: the password form below explains
    );
  }, []);

  async function byPasskey() {
    setBusy(true);
    try {
      const me = await api.me();
      session.unlock(await unlockByPasskey(me, unlockers));
      onUnlocked();
    } catch (e) {
      setErrors([{ field: "passkey", message: passkeyErrorMessage(e) ?? apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

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
      <p>Dermline is locked. Your work is safe.</p>
      {unlockers.length > 0 && (
        <div id="passkey" tabIndex={-1}>
          <Button type="button" disabled={busy} onClick={() => void byPasskey()}>
            Unlock with a passkey
          </Button>
          <p>Or type your password:</p>
        </div>
      )}
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
