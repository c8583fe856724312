"""Suite names. Each records-producing module sizes its own work by suite name."""

SUITE_NAMES: tuple[str, ...] = ("smoke", "default", "full")


def check_suite(name: str) -> str:
    """Return ``name`` if it is a known suite, else raise ``ValueError`` listing the choices."""
    if name not in SUITE_NAMES:
        raise ValueError(f"suite={name!r} must be one of {SUITE_NAMES}")
    return name
