import ipaddress
from pathlib import Path

import pytest

from server.app import storage_config
from server.settings import Secret, SettingsError, load_settings
from storage import backup


def test_precedence_defaults_toml_env_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "dermline.toml"
    toml.write_text('port = 9000\nhost = "0.0.0.0"\nmax_body_bytes = 1000\n')
    s = load_settings(
        environ={"DERMLINE_PORT": "9100", "DERMLINE_LOGIN_LOCKOUT": "60"},
        config_file=toml,
        overrides={"host": "127.0.0.2", "port": None},
    )
    assert (s.port, s.host, s.max_body_bytes, s.login_lockout) == (9100, "127.0.0.2", 1000, 60)
    assert s.session_ttl == 12 * 3600  # default


def test_config_file_from_environment(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('allowed_origins = ["https://a.example/", "https://b.example"]\n')
    s = load_settings(environ={"DERMLINE_CONFIG": str(toml)})
    assert s.origins() == ("https://a.example", "https://b.example")


def test_secrets_are_redacted() -> None:
    s = load_settings(environ={"DERMLINE_DATABASE_URL": "postgresql://u:hunter2@db/x"})
    assert isinstance(s.database_url, Secret)
    assert s.database_url.reveal() == "postgresql://u:hunter2@db/x"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.database_url)


def test_trusted_proxies_and_default_origins() -> None:
    s = load_settings(
        environ={"DERMLINE_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, overrides={"port": 8443}
    )
    assert s.trusted_proxies == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1"))
    assert s.origins() == ("http://127.0.0.1:8443", "http://localhost:8443")
    tls = load_settings(
        environ={}, overrides={"tls_cert": "c.pem", "tls_key": "k.pem", "host": "dermline.example"}
    )
    assert tls.tls and tls.origins() == ("https://dermline.example:8443",)


@pytest.mark.parametrize(
    ("environ", "overrides"),
    [
        ({"DERMLINE_PORT": "http"}, {}),
        ({"DERMLINE_PORT": "70000"}, {}),
        ({"DERMLINE_MAX_BODY_BYTES": "-1"}, {}),
        ({"DERMLINE_TRUSTED_PROXIES": "not-a-network"}, {}),
        ({}, {"tls_cert": "only-cert.pem"}),
        ({}, {"no_such_setting": 1}),
    ],
)
def test_bad_values_name_the_setting_only(environ: dict, overrides: dict) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ=environ, overrides=overrides)
    assert "70000" not in str(err.value) and "http" not in str(err.value).replace("tls", "")


def test_bad_toml(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("port = = 1")
    with pytest.raises(SettingsError):
        load_settings(environ={}, config_file=bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'")
    with pytest.raises(SettingsError):
        load_settings(environ={}, config_file=unknown)


def test_one_sqlite_file_name(tmp_path: Path) -> None:
    """The server opens, and a backup copies, the same SQLite file: the one name lives in
    ``storage.config`` (the settings do not name it)."""
    s = load_settings(environ={"DERMLINE_DATA_DIR": str(tmp_path)})
    cfg = storage_config(s)
    assert cfg.backend == "sqlite"
    assert cfg.sqlite_path == tmp_path / "dermline.sqlite3"
    assert cfg.sqlite_path.name == backup.DB_NAME
    assert not hasattr(s, "sqlite_path")
