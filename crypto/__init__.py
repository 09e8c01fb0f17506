"""Dermline protocol core, v1 (docs/protocol.md): pure functions over bytes, no I/O.

Application code uses the recipe modules; ``crypto.primitives`` is the hazmat layer below
them; ``crypto.at_rest`` and ``crypto.audit_checkpoint`` are the server's storage recipes.

=====================  ===========================================================
``crypto.password``    password -> auth key + KEK; KDF-parameters record; fake salt
``crypto.recovery_key`` the printed recovery key (Crockford base32 with a checksum)
``crypto.usk``         user symmetric key and its KEK / recovery / organisation / passkey wraps
``crypto.account``     account key pairs; private keys sealed under the USK
``crypto.fingerprint`` key ids, account fingerprints, safety numbers
``crypto.suite``       which suite (1 classical, 2 post-quantum hybrid) a wrap uses; downgrades
``crypto.case_key``    case keys and their signed HPKE wrap records
``crypto.envelope``    the signed, encrypted message envelope
``crypto.content``     content types and message bodies
``crypto.attachment``  streaming attachment (photo) encryption
``crypto.records_key`` the records key pair and its passphrase file
``crypto.patient_drop`` the patient photo link: fragment and drop records
``crypto.merkle``      the transparency log's RFC 9162 Merkle tree and proofs
``crypto.log_entry``   transparency log entries (the leaves)
``crypto.tree_head``   the log's signed tree head (0x0d)
``crypto.statement``   signed directory statements (0x0c) and their trust rules
``crypto.invite``      invite secrets, invite keys, invite link fragments
``crypto.org_key``     the organisation key's wraps (0x0f) and invite handover (0x10)
``crypto.transcript``  the reader's hash-chain check of a thread
``crypto.audit_checkpoint`` the server's signature over the audit chain's head
``crypto.errors``      the error classes
=====================  ===========================================================

Importing this package imports none of them, so ``import crypto.errors`` stays cheap and
free of import cycles.
"""

__all__: list[str] = []
