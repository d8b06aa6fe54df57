"""A real SMTP server on loopback for the tests (aiosmtpd).

Each accepted mail is parsed and written as JSON to DIR/new/<n>.json (to,
subject, message id, text and HTML parts, decoded). DIR/mode steers the
server, read at each mail:
  accept  (default) take the mail
  refuse  answer 451 (try again later)
  reject  answer 554 (refused)
  drop    close the connection instead of answering
  hang    never answer (DIR/hanging tells a mail is held)
  hang_after:N  take N mails in all, then hang
  refuse_rcpt  refuse every recipient, quoting its address, as real servers do

Usage: python3 smtp_sink.py PORT DIR
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    def mode(self):
        try:
            with open(os.path.join(self.directory, "mode")) as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode() == "refuse_rcpt":
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "refuse":
            return "451 4.3.0 Boite temporairement indisponible"
        if mode == "reject":
            return "554 5.7.1 Message refuse"
        if mode == "drop":
            server.transport.abort()
            return "421 4.4.2 Connexion fermee"
        if mode.startswith("hang_after:") and self.count < int(mode.split(":")[1]):
            mode = "accept"
        if mode == "hang" or mode.startswith("hang_after:"):
            with open(os.path.join(self.directory, "hanging"), "w") as f:
                f.write("1")
            await asyncio.sleep(3600)
            return "451 4.4.2 Trop tard"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        self.count += 1
        record = {
            "n": self.count,
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "to": str(message["To"] or ""),
            "subject": str(message["Subject"] or ""),
            "message_id": str(message["Message-ID"] or ""),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else "",
            "text_charset": text.get_content_charset() if text is not None else "",
            "html": html.get_content() if html is not None else "",
        }
        tmp = os.path.join(self.directory, "tmp", f"{self.count:06}.json")
        with open(tmp, "w") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(self.directory, "new", f"{self.count:06}.json"))
        return "250 2.0.0 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    with open(os.path.join(directory, "ready"), "w") as f:
        f.write("1")
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
