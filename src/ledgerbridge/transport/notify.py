"""Sending a notification out: a Slack-compatible webhook (JSON `{"text": …}`) or e-mail
over SMTP. What to send and when is `operations.notifications`'."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import httpx

__all__ = ["NotifyError", "SmtpSender", "WebhookSender"]


class NotifyError(RuntimeError):
    """The notification could not be delivered (logged by the caller; never fatal)."""


class WebhookSender:
    def __init__(self, url: str, *, http: httpx.AsyncClient | None = None) -> None:
        self.url = url
        self._http = http

    async def send(self, subject: str, body: str) -> None:
        payload = {"text": f"*{subject}*\n{body}"}
        try:
            if self._http is not None:
                response = await self._http.post(self.url, json=payload, timeout=10)
            else:
                async with httpx.AsyncClient(timeout=10) as http:
                    response = await http.post(self.url, json=payload)
        except httpx.HTTPError as exc:
            raise NotifyError(f"the notification webhook did not answer: {exc}") from exc
        if response.status_code >= 300:
            raise NotifyError(f"the notification webhook answered {response.status_code}")


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        *,
        starttls: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.starttls, self.username, self.password = starttls, username, password

    def _send(self, subject: str, body: str) -> None:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"the e-mail could not be sent through {self.host}: {exc}") from exc

    async def send(self, subject: str, body: str) -> None:
        await asyncio.to_thread(self._send, subject, body)
