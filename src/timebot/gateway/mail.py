"""E-mail through the outbox: a message is an outbox row of kind "email" written in the same
transaction as the facts behind it, and the mail dispatcher sends it over SMTP (aiosmtplib).

Why the outbox and not a direct send from the job: the job that decides to write (the daily
digest) commits once and never runs again for that day, while an SMTP server can be down for a
while. As an outbox row, an e-mail is retried with the same back-off, attempt limit, dead
letters and `timebot outbox retry` as chat messages, and a worker that dies mid-send leaves a
lease another worker takes over.

Row: kind "email", method "smtp.send", payload `{"params": {"to": [...], "subject", "html",
"text", "attachments": [{"filename", "content_type", "data"}]}}` (data in base64). The sender
address comes from the SMTP settings at send time.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from timebot.domain.clock import Clock
from timebot.gateway.outbox import retry_delay
from timebot.logs import get_logger
from timebot.metrics import OUTBOX_FAILED, OUTBOX_SENT
from timebot.storage import Database, UnitOfWork

__all__ = [
    "EMAIL_KIND",
    "EMAIL_METHOD",
    "Attachment",
    "MailDispatcher",
    "SmtpConfig",
    "build_message",
    "enqueue_email",
]

log = get_logger(__name__)

EMAIL_KIND = "email"
EMAIL_METHOD = "smtp.send"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to send: from `TIMEBOT_SMTP_URL` + `TIMEBOT_SMTP_FROM`.

    `smtp://user:pass@host:587?starttls=1` (STARTTLS required; `starttls=0` never, absent:
    when the server offers it), `smtps://user:pass@host:465` (TLS from the start). Query
    `timeout` (seconds) and `validate_certs=0` are honoured too.
    """

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None
    validate_certs: bool = True
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, *, sender: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"an SMTP URL starts with smtp:// or smtps://, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError("the SMTP URL names no host")
        query = {k: v[-1].strip().lower() for k, v in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        start_tls: bool | None = None
        flag = query.get("starttls")
        if flag in _TRUE:
            start_tls = True
        elif flag in _FALSE:
            start_tls = False
        if implicit:
            start_tls = False
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=start_tls,
            validate_certs=query.get("validate_certs") not in _FALSE,
            timeout=float(query.get("timeout") or 30.0),
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


async def enqueue_email(
    uow: UnitOfWork,
    *,
    portal_id: int,
    to: Sequence[str],
    subject: str,
    html: str,
    text: str,
    attachments: Sequence[Attachment] = (),
    now: datetime,
    dedupe_key: str,
) -> bool:
    """Queue one e-mail in the caller's transaction; False when `dedupe_key` was queued."""
    params = {
        "to": list(to),
        "subject": subject,
        "html": html,
        "text": text,
        "attachments": [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "data": base64.b64encode(a.data).decode("ascii"),
            }
            for a in attachments
        ],
        "message_key": dedupe_key,
    }
    return await uow.outbox.enqueue(
        portal_id=portal_id,
        kind=EMAIL_KIND,
        method=EMAIL_METHOD,
        payload={"params": params},
        now=now,
        dedupe_key=dedupe_key[:191],
    )


def build_message(
    params: Mapping[str, Any], *, sender: str, domain: str = "timebot"
) -> EmailMessage:
    """The MIME message of a queued e-mail: text with an HTML alternative, then attachments.

    The Message-ID derives from the row's key, so a resend after a lost answer carries the
    same id (mail clients fold such duplicates).
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(params["to"])
    message["Subject"] = params["subject"]
    message["Date"] = formatdate(localtime=False, usegmt=True)
    key = str(params.get("message_key") or "")
    if key:
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        message["Message-ID"] = f"<{digest}@{domain}>"
    else:
        message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(params.get("text") or "")
    if params.get("html"):
        message.add_alternative(params["html"], subtype="html")
    for item in params.get("attachments") or ():
        maintype, _, subtype = str(item["content_type"]).partition("/")
        message.add_attachment(
            base64.b64decode(item["data"]),
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item["filename"],
        )
    return message


def _permanent(exc: BaseException) -> bool:
    """Errors a retry cannot fix: every recipient refused, or a 5xx answer to the data."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= e.code < 600 for e in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPDataError | aiosmtplib.SMTPSenderRefused):
        return 500 <= exc.code < 600
    return isinstance(exc, KeyError | ValueError | TypeError)  # a malformed row


class MailDispatcher:
    """Claims due "email" outbox rows (a lease, like the chat dispatcher) and sends each one."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        smtp: SmtpConfig,
        *,
        worker: str,
        max_attempts: int = 8,
        lease: timedelta = timedelta(minutes=2),
        claim_limit: int = 10,
    ) -> None:
        self.database = database
        self.clock = clock
        self.smtp = smtp
        self.worker = worker
        self.max_attempts = max_attempts
        self.lease = lease
        self.claim_limit = claim_limit

    async def claim(self) -> list[tuple[int, int, dict[str, Any]]]:
        """Lease due e-mail rows: (row id, attempts so far, params)."""
        now = self.clock.now()
        async with self.database.unit_of_work() as uow:
            rows = await uow.outbox.claim(
                now=now,
                worker=self.worker,
                lease=self.lease,
                limit=self.claim_limit,
                kinds=(EMAIL_KIND,),
            )
            claimed = []
            for row in rows:
                claimed.append((row.id, row.attempts, dict(row.payload.get("params") or {})))
            await uow.commit()
        return claimed

    async def renew(self, row_id: int) -> bool:
        """Extend our lease on a row right before sending it; False when another worker took
        it over meanwhile (our lease ran out while earlier e-mails were slow to send)."""
        async with self.database.unit_of_work() as uow:
            held = await uow.outbox.renew(
                [row_id], worker=self.worker, until=self.clock.now() + self.lease
            )
            await uow.commit()
        return row_id in held

    async def send(self, params: Mapping[str, Any]) -> str:
        """Send one e-mail; returns the server's answer to the data."""
        s = self.smtp
        message = build_message(params, sender=s.sender)
        _, answer = await aiosmtplib.send(
            message,
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            use_tls=s.use_tls,
            start_tls=s.start_tls,
            validate_certs=s.validate_certs,
            timeout=s.timeout,
        )
        return answer

    async def dispatch_once(self) -> int:
        """Send what is due now, one e-mail after another; how many rows were handled."""
        claimed = await self.claim()
        for row_id, attempts, params in claimed:
            if not await self.renew(row_id):
                continue
            try:
                answer = await self.send(params)
            except Exception as exc:
                final = _permanent(exc)
                async with self.database.unit_of_work() as uow:
                    state = await uow.outbox.mark_failed(
                        row_id,
                        now=self.clock.now(),
                        worker=self.worker,
                        error=f"{type(exc).__name__}: {exc}",
                        retry_in=retry_delay(attempts + 1),
                        max_attempts=self.max_attempts,
                        final=final,
                    )
                    await uow.commit()
                OUTBOX_FAILED.labels(EMAIL_KIND, str(state == "dead")).inc()
                log.warning("mail.failed", row=row_id, error=str(exc), state=state)
                continue
            async with self.database.unit_of_work() as uow:
                sent = await uow.outbox.mark_sent(
                    row_id, now=self.clock.now(), worker=self.worker, result={"smtp": answer}
                )
                await uow.commit()
            if sent:
                OUTBOX_SENT.labels(EMAIL_KIND).inc()
        return len(claimed)
