"""Open Badges 3.0 credentials: Data Integrity proofs (eddsa-rdfc-2022) signed and verified offline.

Pure functions, no HTTP and no database: :mod:`guidance.badges.proof` (sign, verify, every
intermediate value), :mod:`guidance.badges.multikey` (Ed25519 Multikey, did:key),
:mod:`guidance.badges.contexts` (bundled JSON-LD contexts, a loader that never fetches),
:mod:`guidance.badges.status_list` (W3C Bitstring Status List v1.0: revocation bits, their
``credentialStatus`` entry and the list credential).
"""
