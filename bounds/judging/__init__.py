"""Judging: the statistical rules, the public judges built on them, the ledger record, the
readings' vocabulary and the numeric evaluation of a claim's bound."""
