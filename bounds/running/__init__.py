"""Running: suites, the ledger and run folders, the parallel workers, the report, the CLI,
sweeps and ``diff``."""
