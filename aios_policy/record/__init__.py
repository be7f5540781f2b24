"""The record stage: the decision log, a hash chain of every decision and every resolution.

Owns storing, reading and verifying the log (`log`, the one home of sqlite3). Knows decisions only
as the JSON the engine returns. May import `aios_policy.engine`, `words`, `constitution` and what
every stage shares.
"""
