"""One typed settings object, built once at start-up and passed through the app factory.

Sources, lowest precedence first:

1. the defaults below;
2. an optional TOML file (``--config FILE`` or ``DERMLINE_CONFIG``), keys named like the
   fields (``max_body_bytes = 65536``);
3. environment variables ``DERMLINE_<FIELD>`` (``DERMLINE_MAX_BODY_BYTES=65536``);
4. explicit overrides (the command line's ``--host``, ``--port``, ...).

Secrets are :class:`Secret` values whose ``repr`` and ``str`` never show the value, so a
settings object can be logged (after Starlette ``config.Secret``). There are no module
globals: :func:`load_settings` returns a new frozen object every time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Secret", "Settings", "SettingsError", "load_settings"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the setting only."""


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: ``repr`` and ``str`` redact it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"


#: Browsers' push services (Chrome and Edge on FCM, Firefox, Windows, Safari).
DEFAULT_PUSH_SERVICES: tuple[str, ...] = (
    "https://fcm.googleapis.com",
    "https://updates.push.services.mozilla.com",
    "https://*.notify.windows.com",
    "https://web.push.apple.com",
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every knob of the server. Durations are seconds, sizes are bytes."""

    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # The origin users type into the browser (e.g. https://dermline.example). Socket.IO and
    # the CSRF Origin check accept exactly these origins; by default the server's own.
    allowed_origins: tuple[str, ...] = ()
    # X-Forwarded-For is believed only when the TCP peer is inside one of these networks.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # PostgreSQL DSN (secret: it may hold a password); SQLite in data_dir when absent.
    database_url: Secret | None = None
    # PostgreSQL schema (one database can hold several deployments or test runs).
    database_schema: str = "public"
    # Redis for cross-node Socket.IO emits; single node when absent.
    redis_url: Secret | None = None
    # Redis pub/sub channel: nodes of one deployment share it; separate deployments (or test
    # runs) on one Redis must not.
    redis_channel: str = "dermline"
    static_dir: Path | None = None
    max_body_bytes: int = 256 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    # Seconds a request body may stall (no byte arriving) before the request is answered
    # 408 and the connection closed; also between the chunks of a photo upload.
    body_read_timeout: int = 30
    session_ttl: int = 12 * 3600
    session_idle_timeout: int = 30 * 60
    invite_ttl: int = 7 * 24 * 3600
    # Failed checks from one address on one account before that address is locked out of
    # that account for login_lockout seconds (docs/architecture.md, "Login attempts").
    login_max_failures: int = 5
    login_lockout: int = 15 * 60
    # Consecutive failures on one account, from all addresses together, before only the
    # addresses that signed in to it before may try (NIST SP 800-63B 5.2.2: at most 100).
    login_account_limit: int = 100
    auth_rate_per_minute: int = 30
    mfa_pending_ttl: int = 5 * 60
    # WebAuthn relying party id (a registrable domain suffix of every allowed origin's host);
    # empty: the host of the first allowed origin. Passkeys are bound to it: changing it
    # makes every registered passkey unusable.
    rp_id: str = ""
    # Seconds a WebAuthn challenge stays valid (single use in any case).
    passkey_challenge_ttl: int = 120
    client_backlog_limit: int = 512
    # Socket.IO connections one session may hold on one node (0: no limit); counted per node.
    max_sockets_per_session: int = 20
    # Seconds between signed audit checkpoints; 0 switches them off.
    audit_checkpoint_interval: int = 300
    # Milliseconds at least between two tree heads this process signs (docs/protocol.md
    # section 19): a request that needs a newer head waits for the rest of the interval.
    tree_head_interval_ms: int = 1000
    replay_batch: int = 500
    # Networks whose clients may read /metrics (docs/operations.md, "Metrics"); everyone
    # else gets 404. The client address is the one server.netaddr finds (proxies honoured).
    metrics_allow: tuple[IPNetwork, ...] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    # Seconds between the server's retention runs (disposal of cases past their retention
    # date; docs/operations.md, "Retention"); 0 switches the scheduled run off.
    retention_interval: int = 24 * 3600
    # Web Push (docs/operations.md, "Notifications"): the push services subscriptions may
    # point at, as origins ("https://*.example" also matches its subdomains). The server
    # POSTs to these only, so a browser cannot make it call anywhere else.
    push_services: tuple[str, ...] = DEFAULT_PUSH_SERVICES
    # The VAPID contact (RFC 8292 "sub": mailto: or https:); empty: the first https
    # allowed origin, else mailto:postmaster@ the relying party id.
    push_contact: str = ""
    # Seconds a push service keeps a push it could not deliver yet (RFC 8030 TTL).
    push_ttl: int = 24 * 3600
    # Milliseconds of events gathered into one notification per person.
    notify_coalesce_ms: int = 2000
    # E-mail notices through this SMTP server (empty: no e-mail notices).
    smtp_host: str = ""
    smtp_port: int = 587
    # starttls (port 587) | tls (implicit, port 465) | none (a relay on this machine only)
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: Secret | None = None
    # The From address of e-mail notices; empty: dermline@ the relying party id.
    smtp_from: str = ""
    # Seconds between two e-mail notices to one person at most.
    email_interval: int = 15 * 60
    log_level: str = "INFO"
    log_file: Path | None = None
    # Argon2id cost for the hash of the auth key (the auth key is already a 256-bit PBKDF2
    # output, so moderate parameters suffice; RFC 9106 second recommended option scaled down).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def https(self) -> bool:
        """Users reach us over HTTPS: we terminate TLS, or every configured origin is
        https (a TLS proxy in front). Decides ``Secure`` cookies and HSTS, so they do not
        depend on the proxy adding them."""
        if self.tls:
            return True
        return bool(self.allowed_origins) and all(
            o.startswith("https://") for o in self.allowed_origins
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def origins(self) -> tuple[str, ...]:
        """The explicit list of origins allowed for Socket.IO and unsafe HTTP methods."""
        if self.allowed_origins:
            return self.allowed_origins
        hosts = {self.host}
        if self.host in ("127.0.0.1", "0.0.0.0", "::", "::1"):  # noqa: S104 - names, not binds
            hosts |= {"localhost", "127.0.0.1"}
        return tuple(sorted(f"{self.scheme}://{h}:{self.port}" for h in hosts))

    def webauthn_rp_id(self) -> str:
        """The relying party id passkeys are bound to: ``rp_id``, or the host of the first
        allowed origin that is a name (browsers refuse an IP address as a relying party id,
        so by default ``http://localhost:port`` serves passkeys, ``127.0.0.1`` does not)."""
        if self.rp_id:
            return self.rp_id
        hosts = [urlsplit(o).hostname or "" for o in self.origins()]
        named = [h for h in hosts if h and not _is_ip(h)]
        return (named or hosts)[0]

    def webauthn_origins(self) -> tuple[str, ...]:
        """The allowed origins a passkey answer may come from: those whose host is the
        relying party id or below it (WebAuthn: the RP id is the origin's host or a
        registrable suffix of it)."""
        rp_id = self.webauthn_rp_id()
        out = []
        for origin in self.origins():
            host = urlsplit(origin).hostname or ""
            if host == rp_id or host.endswith("." + rp_id):
                out.append(origin)
        return tuple(out)

    def vapid_contact(self) -> str:
        """RFC 8292 ``sub``: ``push_contact``, the first https origin, or a mailto:."""
        if self.push_contact:
            return self.push_contact
        https = [o for o in self.origins() if o.startswith("https://")]
        return https[0] if https else f"mailto:postmaster@{self.webauthn_rp_id()}"

    def mail_from(self) -> str:
        return self.smtp_from or f"dermline@{self.webauthn_rp_id()}"


_SECRET_FIELDS = {"database_url", "redis_url", "smtp_password"}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a TOML or environment value into the field's type; SettingsError names the key."""
    try:
        if name in _SECRET_FIELDS:
            return None if raw in (None, "") else Secret(str(raw))
        if name in ("tls_cert", "tls_key", "static_dir", "log_file"):
            return None if raw in (None, "") else Path(str(raw))
        if name == "data_dir":
            return Path(str(raw))
        if name == "allowed_origins":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(i).strip().rstrip("/") for i in items if str(i).strip())
        if name == "push_services":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(i).strip().rstrip("/") for i in items if str(i).strip())
        if name in ("trusted_proxies", "metrics_allow"):
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(
                ipaddress.ip_network(str(i).strip(), strict=False) for i in items if str(i).strip()
            )
        if kind in ("int", int):
            if isinstance(raw, bool):
                raise ValueError
            value = int(raw)
            if value < 0:
                raise ValueError
            return value
        return str(raw)
    except (ValueError, TypeError):
        raise SettingsError(f"invalid value for setting {name!r}") from None


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, an optional TOML file, the environment, overrides."""
    env = os.environ if environ is None else environ
    fields = {f.name: f.type for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    if config_file is None and env.get("DERMLINE_CONFIG"):
        config_file = Path(env["DERMLINE_CONFIG"])
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            raise SettingsError("cannot read the configuration file") from None
        for key, raw in data.items():
            if key not in fields:
                raise SettingsError(f"unknown setting {key!r} in the configuration file")
            values[key] = _coerce(key, raw, fields[key])
    for name, kind in fields.items():
        env_name = "DERMLINE_" + name.upper()
        if env_name in env:
            values[name] = _coerce(name, env[env_name], kind)
    for name, raw in (overrides or {}).items():
        if name not in fields:
            raise SettingsError(f"unknown setting {name!r}")
        if raw is not None:
            values[name] = _coerce(name, raw, fields[name])
    settings = Settings(**values)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("tls_cert and tls_key must be given together")
    if not 0 < settings.port < 65536:
        raise SettingsError("invalid value for setting 'port'")
    if not settings.webauthn_origins():
        raise SettingsError("invalid value for setting 'rp_id'")
    if settings.smtp_security not in ("starttls", "tls", "none"):
        raise SettingsError("invalid value for setting 'smtp_security'")
    if settings.push_contact and not settings.push_contact.startswith(("mailto:", "https:")):
        raise SettingsError("invalid value for setting 'push_contact'")
    if any(not s.startswith(("https://", "http://")) for s in settings.push_services):
        raise SettingsError("invalid value for setting 'push_services'")
    return settings
