import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiErrorMessage } from "../api";
import { BackLink, Button, Checkboxes, ErrorSummary, type FieldError, usePageTitle } from "../components";
import { type NotificationPrefs, deviceSubscriptionId, disablePush, enablePush, notificationApi, pushSupported } from "../push";

/**
 * Notification settings (#/notifications; docs/api.md "Notifications"): notifications on
 * this device (Web Push: the browser asks for permission), a sound in the page, e-mail
 * notices when the server has an SMTP server. Every notice says only "A new reply in one of
 * your cases" or the like: never a patient, a case or what was written.
 */
export function Notifications({ onSound }: { onSound: (on: boolean) => void }): JSX.Element {
  const [prefs, setPrefs] = useState<NotificationPrefs | null>(null);
  const [choices, setChoices] = useState(new Set<string>());
  const [device, setDevice] = useState<string | null>(deviceSubscriptionId());
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  usePageTitle("Notification settings", errors.length > 0);
  const err = (f: string) => errors.find((e) => e.field === f)?.message ?? null;

  const show = (p: NotificationPrefs) => {
    setPrefs(p);
    setChoices(new Set([...(p.sound ? ["sound"] : []), ...(p.email ? ["email"] : [])]));
    // The server pruned or removed this device's subscription: show it as off.
    const mine = deviceSubscriptionId();
    setDevice(mine && p.subscriptionIds.includes(mine) ? mine : null);
  };
  useEffect(() => {
    notificationApi.get().then(show, (e) => setErrors([{ field: "choices", message: apiErrorMessage(e) }]));
  }, []);

  async function togglePush() {
    setErrors([]);
    setStatus("");
    setBusy(true);
    try {
      if (device) {
        await disablePush();
        setStatus("Notifications are off on this device.");
      } else {
        await enablePush();
        setStatus("Notifications are on for this device.");
      }
      show(await notificationApi.get());
    } catch (e) {
      setErrors([{ field: "push", message: e instanceof Error && !("code" in e) ? e.message : apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  async function save(ev: Event) {
    ev.preventDefault();
    setErrors([]);
    setStatus("");
    setBusy(true);
    try {
      const p = await notificationApi.put(choices.has("sound"), choices.has("email"));
      show(p);
      onSound(p.sound);
      setStatus("Your notification settings are saved.");
    } catch (e) {
      setErrors([{ field: "choices", message: apiErrorMessage(e) }]);
    } finally {
      setBusy(false);
    }
  }

  const options: [string, string][] = [["sound", "Play a sound in Dermline when something new arrives"]];
  if (prefs?.emailAvailable) options.push(["email", "Send me an email when something new arrives (no patient details)"]);
  return (
    <>
      <BackLink href="#/cases">Back to your cases</BackLink>
      <ErrorSummary errors={errors} />
      <h1>Notification settings</h1>
      <p>Notifications never include a patient's name, a case or what anyone wrote. They only tell you that there is something new, for example “A new reply in one of your cases”.</p>
      <div role="status" aria-live="polite" data-testid="notification-status">
        {status && <p class="nhsuk-body nhsuk-u-font-weight-bold">{status}</p>}
      </div>
      <h2>On this device</h2>
      <div class={`nhsuk-form-group${err("push") ? " nhsuk-form-group--error" : ""}`}>
        {err("push") && (
          <span class="nhsuk-error-message" id="push-error">
            <span class="nhsuk-u-visually-hidden">Error:</span> {err("push")}
          </span>
        )}
        {pushSupported() ? (
          <>
            <p data-testid="push-state">{device ? "Notifications are on for this device, also when Dermline is closed." : "Notifications are off for this device."}</p>
            <Button secondary={!!device} disabled={busy} onClick={() => void togglePush()}>
              {device ? "Turn off notifications on this device" : "Turn on notifications on this device"}
            </Button>
          </>
        ) : (
          <p>This browser cannot show notifications from Dermline. You will still see new replies when Dermline is open.</p>
        )}
      </div>
      <form onSubmit={save} noValidate>
        <Checkboxes id="choices" legend="While you use Dermline and by email" options={options} value={choices} onChange={setChoices} error={err("choices")} />
        {prefs && !prefs.emailAvailable && <p class="nhsuk-hint">Email notices are not available: this Dermline service has no email server set up.</p>}
        <Button type="submit" disabled={busy || prefs === null}>
          Save settings
        </Button>
      </form>
    </>
  );
}
