"""E-mail notices through the configured SMTP server (docs/operations.md, "Notifications"):
the edge behind the domain's ``Mailer``. The standard library's ``smtplib`` in a worker
thread (a notice is rare and small); TLS as configured: ``starttls`` (RFC 3207, the
submission port 587), ``tls`` (implicit TLS, RFC 8314, port 465) or ``none`` (only for a
relay on the same machine or in tests). Certificates are verified against the system's
trust store. What is sent is the domain's fixed text; nothing is logged here.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

__all__ = ["SmtpMailer"]

SECURITY_MODES = ("starttls", "tls", "none")


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str,
        sender: str,
        username: str = "",
        password: str = "",
        timeout: float = 30.0,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError("smtp_security is starttls, tls or none")
        self._host = host
        self._port = port
        self._security = security
        self._sender = sender
        self._username = username
        self._password = password
        self._timeout = timeout

    async def send(self, to: str, subject: str, text: str) -> None:
        msg = EmailMessage()
        msg["From"] = self._sender
        msg["To"] = to
        msg["Subject"] = subject
        msg.set_content(text)
        await asyncio.to_thread(self._send, msg)

    def _send(self, msg: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self._security == "tls":
            smtp = smtplib.SMTP_SSL(self._host, self._port, timeout=self._timeout, context=context)
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        with smtp:
            if self._security == "starttls":
                smtp.starttls(context=context)
            if self._username:
                smtp.login(self._username, self._password)
            smtp.send_message(msg)
