"""Secrets kept in the database (remote tokens, helpdesk keys): Fernet-encrypted
with the SECRETS_KEY of the config, decrypted only where they are used, never
rendered or returned."""

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

from app.core.errors import InvalidInput


def _fernet() -> Fernet:
    return Fernet(current_app.config["SECRETS_KEY"].encode())


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise InvalidInput(
            "A stored secret cannot be decrypted with the current SECRETS_KEY; set it again.", code="secret_unreadable"
        ) from None
