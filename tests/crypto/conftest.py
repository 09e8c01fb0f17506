"""Shared fixtures for the protocol tests: fixed identities and key pairs."""

from __future__ import annotations

import uuid

import pytest

from crypto import account


@pytest.fixture(scope="session")
def alice() -> account.AccountKeys:
    return account.generate_account_keys_from_parts(
        encryption_ikm=b"\x01" * 32, signing_ikm=b"\x02" * 32
    )


@pytest.fixture(scope="session")
def bob() -> account.AccountKeys:
    return account.generate_account_keys_from_parts(
        encryption_ikm=b"\x03" * 32, signing_ikm=b"\x04" * 32
    )


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.UUID("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
