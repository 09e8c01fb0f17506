import type { JSX } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Api, Me } from "./api";
import { Admin, AdminEntryLink } from "./pages/Admin";
import { CaseView } from "./pages/CaseView";
import { Cases } from "./pages/Cases";
import { NewCase } from "./pages/NewCase";
import { Invite } from "./pages/Invite";
import { Login } from "./pages/Login";
import { NotFound } from "./pages/NotFound";
import { PatientUpload } from "./pages/PatientUpload";
import { Notifications } from "./pages/Notifications";
import { Security } from "./pages/Security";
import { Start } from "./pages/Start";
import { Unlock } from "./pages/Unlock";
import { navigate, useRoute } from "./router";
import { Outbox } from "./outbox";
import { PinStore, indexedDbPinBackend } from "./pins";
import { SafetyNumberPage } from "./pages/SafetyNumber";
import { RecordsKeyBanner } from "./pages/RecordsKeyBanner";
import { Realtime } from "./realtime";
import { Session, idleLockMs } from "./session";
import { forgetUsk, unlockRemembered } from "./unlock";
import { failedAttemptsText, takeFailedAttempts } from "./signinNotice";
import { Notifier } from "./notify";
import { disablePush, notificationApi } from "./push";

function Header(): JSX.Element {
  return (
    <header class="nhsuk-header" role="banner">
      <div class="nhsuk-header__container nhsuk-width-container">
        <div class="nhsuk-header__service">
          <a class="nhsuk-header__service-logo" href="#/" aria-label="Dermline homepage">
            <svg class="nhsuk-header__logo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 80" height="40" width="100" focusable="false" role="img" aria-label="NHS">
              <title>NHS</title>
              <path
                fill="currentcolor"
                d="M200 0v80H0V0h200Zm-27.5 5.5c-14.5 0-29 5-29 22 0 10.2 7.7 13.5 14.7 16.3l.7.3c5.4 2 10.1 3.9 10.1 8.4 0 6.5-8.5 7.5-14 7.5s-12.5-1.5-16-3.5L135 70c5.5 2 13.5 3.5 20 3.5 15.5 0 32-4.5 32-22.5 0-19.5-25.5-16.5-25.5-25.5 0-5.5 5.5-6.5 12.5-6.5a35 35 0 0 1 14.5 3l4-13.5c-4.5-2-12-3-20-3Zm-131 2h-22l-14 65H22l9-45h.5l13.5 45h21.5l14-65H64l-9 45h-.5l-13-45Zm63 0h-18l-13 65h17l6-28H117l-5.5 28H129l13.5-65H125L119.5 32h-20l5-24.5Z"
              />
            </svg>
            <span class="nhsuk-header__service-name">Dermline</span>
          </a>
        </div>
      </div>
    </header>
  );
}

function Footer(): JSX.Element {
  return (
    <footer role="contentinfo">
      <div class="nhsuk-footer" id="nhsuk-footer">
        <div class="nhsuk-width-container">
          <p class="nhsuk-body-s">Dermline: secure advice and guidance for skin conditions.</p>
        </div>
      </div>
    </footer>
  );
}

export function App({ api }: { api: Api }): JSX.Element {
  const route = useRoute();
  const session = useMemo(() => new Session(idleLockMs(typeof sessionStorage === "undefined" ? null : sessionStorage)), []);
  const realtime = useMemo(() => new Realtime(), []);
  const outbox = useMemo(() => new Outbox((c, id, env) => api.sendMessage(c, id, env)), [api]);
  useEffect(() => realtime.onReconnect(() => void outbox.flush()), [realtime, outbox]);
  const [locked, setLocked] = useState(true);
  const [me, setMe] = useState<Me | null>(null);
  const [online, setOnline] = useState(navigator.onLine);
  // Failed sign-in attempts since the previous sign-in, shown once after signing in.
  const [attemptsNotice, setAttemptsNotice] = useState<string | null>(null);
  // In-page notifications (notify.ts): the live region's text, the title count, the sound.
  const [noticeText, setNoticeText] = useState("");
  const notifier = useMemo(() => new Notifier(realtime, setNoticeText), [realtime]);
  const startNotices = () => {
    notifier.start();
    notificationApi.get().then(
      (p) => notifier.setSound(p.sound),
      () => undefined,
    );
  };
  useEffect(
    () =>
      session.subscribe((isLocked, reason) => {
        setLocked(isLocked);
        // Re-locked after idle: the keys are gone from memory; ask for the password again.
        if (reason === "idle") {
          realtime.disconnect();
          navigate({ name: "unlock" });
        }
      }),
    [session],
  );
  useEffect(() => {
    // Any interaction counts as activity for the idle re-lock.
    const touch = () => session.touch();
    const up = () => {
      setOnline(true);
      void outbox.flush(); // back online: resend what is waiting
    };
    const down = () => setOnline(false);
    window.addEventListener("pointerdown", touch);
    window.addEventListener("keydown", touch);
    window.addEventListener("online", up);
    window.addEventListener("offline", down);
    return () => {
      window.removeEventListener("pointerdown", touch);
      window.removeEventListener("keydown", touch);
      window.removeEventListener("online", up);
      window.removeEventListener("offline", down);
    };
  }, [session, outbox]);
  useEffect(() => {
    document.getElementById("maincontent")?.focus();
  }, [route.name]);

  const home = () => {
    // Fetch the profile (memberships) once the keys are unlocked, then show the cases.
    setAttemptsNotice(failedAttemptsText(takeFailedAttempts()));
    api.me().then(
      (m) => {
        setMe(m);
        realtime.connect();
        startNotices();
        navigate({ name: "cases" });
      },
      () => navigate({ name: "login" }),
    );
  };
  // On a cold load: if the server session is still valid and this device remembers the user's
  // key, unlock without the password.
  useEffect(() => {
    api.me().then(
      async (m) => {
        const keys = await unlockRemembered(m);
        if (keys && session.locked) {
          session.unlock(keys);
          setMe(m);
          realtime.connect();
          startNotices();
          if (route.name === "start" || route.name === "login") navigate({ name: "cases" });
        }
      },
      () => undefined, // not signed in: stay on the public pages
    );
  }, []);
  const logout = () => {
    const userId = session.unlocked?.userId ?? me?.userId;
    if (userId) void forgetUsk(userId);
    session.lock();
    realtime.disconnect();
    outbox.clear();
    setMe(null);
    setAttemptsNotice(null);
    notifier.stop();
    // This device stops receiving the person's pushes first (a shared device), then signs out.
    void disablePush()
      .then(() => api.logout())
      .catch(() => undefined);
    navigate({ name: "login" });
  };

  const signedIn = !locked && session.unlocked !== null && me !== null;
  // The signed-in user's pinned keys (src/app/pins.ts), kept on this device across sign-ins.
  const pins = useMemo(() => (me ? new PinStore(me.userId, indexedDbPinBackend()) : null), [me?.userId]);
  let page: JSX.Element;
  switch (route.name) {
    case "start":
      page = signedIn ? <Cases api={api} me={me} realtime={realtime} onLogout={logout} /> : <Start />;
      break;
    case "admin":
      page = signedIn ? <Admin api={api} me={me} sub={route.sub} keys={session.unlocked} pins={pins} /> : <Start />;
      break;
    case "patient":
      // No account: the link's token is the only credential (docs/api.md).
      page = <PatientUpload fragment={route.fragment} />;
      break;
    case "login":
      page = <Login api={api} session={session} onSignedIn={home} />;
      break;
    case "unlock":
      page = <Unlock api={api} session={session} onUnlocked={home} />;
      break;
    case "security":
      page = signedIn ? <Security api={api} /> : <Start />;
      break;
    case "notifications":
      page = signedIn ? <Notifications onSound={(on) => notifier.setSound(on)} /> : <Start />;
      break;
    case "invite":
      page = <Invite api={api} token={route.token} session={session} onSignedIn={home} />;
      break;
    case "cases":
      page = signedIn ? <Cases api={api} me={me} realtime={realtime} onLogout={logout} /> : <Start />;
      break;
    case "newCase":
      page = signedIn && pins ? <NewCase api={api} me={me} session={session} pins={pins} /> : <Start />;
      break;
    case "case":
      page =
        signedIn && pins ? <CaseView api={api} me={me} session={session} realtime={realtime} outbox={outbox} pins={pins} caseId={route.caseId} /> : <Start />;
      break;
    case "person":
      page = signedIn && pins ? <SafetyNumberPage pins={pins} keys={session.unlocked!} userId={route.userId} caseId={route.caseId} /> : <Start />;
      break;
    default:
      page = <NotFound />;
  }
  return (
    <>
      <a
        class="nhsuk-skip-link"
        href="#maincontent"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById("maincontent")?.focus();
        }}
      >
        Skip to main content
      </a>
      <Header />
      {/* New replies and cases announced to screen readers (notify.ts); no case is named. */}
      <div class="nhsuk-u-visually-hidden" role="status" aria-live="polite" data-testid="notice-live">
        {noticeText}
      </div>
      {!online && (
        <div class="dl-offline-banner" role="status">
          <div class="nhsuk-width-container">You are offline. Messages will be sent when the connection returns.</div>
        </div>
      )}
      <div class="nhsuk-width-container">
        <main class="nhsuk-main-wrapper dl-main" id="maincontent" tabIndex={-1}>
          {signedIn && pins && (route.name === "cases" || route.name === "start") && <RecordsKeyBanner api={api} me={me} pins={pins} />}
          {signedIn && attemptsNotice && (route.name === "cases" || route.name === "start") && (
            <div class="nhsuk-warning-callout" data-testid="failed-attempts">
              <h2 class="nhsuk-warning-callout__label">
                <span class="nhsuk-u-visually-hidden">Important: </span>Failed sign-in attempts
              </h2>
              <p>{attemptsNotice}</p>
              <button type="button" class="nhsuk-button nhsuk-button--secondary nhsuk-u-margin-bottom-0" onClick={() => setAttemptsNotice(null)}>
                Dismiss
              </button>
            </div>
          )}
          {signedIn && (route.name === "cases" || route.name === "start") && <AdminEntryLink me={me} />}
          {signedIn && (route.name === "cases" || route.name === "start") && (
            <p>
              <a href="#/security" data-testid="security-link">
                Passkeys and security
              </a>
              {" · "}
              <a href="#/notifications" data-testid="notifications-link">
                Notification settings
              </a>
            </p>
          )}
          {page}
        </main>
      </div>
      <Footer />
    </>
  );
}
