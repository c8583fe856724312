"""The pytest plugin of dssl-bounds (entry point ``pytest11``: ``dssl_bounds``).

Loaded by every pytest run in an environment where the toolkit is installed, so importing
it loads nothing heavy: JAX, sympy and the studies are imported by the fixtures that need them.

Options (command line, or the ini keys in brackets):

    --dssl-suite NAME   [dssl_suite]    the suite whose sizes ``dssl_suite`` returns (default smoke)
    --dssl-seed S       [dssl_seed]     the master seed of ``dssl_key`` (default 0)
                        [dssl_float64]  true: enable JAX's float64 before the tests run (the
                                        studies need it; default false, so that a test run that
                                        does not ask keeps JAX's default)

Fixtures:

    dssl_suite   the `bounds.Suite` (every producer's sizes; ``.linear`` for `linear_records`)
    dssl_seed    the master seed
    dssl_key     this test's key: the master seed's root key split by the test's node id
    dssl_check   ``dssl_check(record_or_records, claim=None, *, rule=None, inconclusive=None,
                 vacuous=None, **reading)``: picks the record (`bounds.testing.select`), checks
                 it is the claim and reading the test states, and asserts on it
                 (`bounds.testing.check`); the claim, reading, rule and treatments default to
                 the test's ``dssl_claim`` marker

Marker: ``@pytest.mark.dssl_claim(claim, *, rule=None, inconclusive="fail", vacuous="fail",
**reading)`` states what the test checks.

At the end of the test run, when some test checked a record, the terminal shows the claim x
reading matrix of the verdicts (the one ``dssl-bounds verify`` prints) and the verdict of each
test's record; with pytest-xdist the records travel with the test reports.
"""

from __future__ import annotations

import json

import pytest

from bounds.testing.outcome import check, select

#: The key of a checked record in a test report's ``user_properties``.
PROPERTY = "dssl_record"
_OPTIONS = {"rule", "inconclusive", "vacuous"}


def pytest_addoption(parser):
    group = parser.getgroup("dssl-bounds", "dssl-bounds: the paper's claims as tests")
    group.addoption("--dssl-suite", default=None, help="suite of sizes for the dssl_suite fixture (ini: dssl_suite)")
    group.addoption("--dssl-seed", default=None, type=int, help="master seed of dssl_key (ini: dssl_seed)")
    parser.addini("dssl_suite", "suite of sizes for the dssl_suite fixture", default="smoke")
    parser.addini("dssl_seed", "master seed of dssl_key", default="0")
    parser.addini("dssl_float64", "enable JAX float64 before the tests run", type="bool", default=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "dssl_claim(claim, *, rule=None, inconclusive='fail', vacuous='fail', "
                                       "**reading): the paper claim, reading and rule a test checks (dssl-bounds)")
    if config.getini("dssl_float64"):
        import jax

        jax.config.update("jax_enable_x64", True)
    config.pluginmanager.register(Verdicts(), "dssl_bounds_verdicts")


def _seed(config) -> int:
    value = config.getoption("dssl_seed")
    if value is None:
        raw = config.getini("dssl_seed")
        try:
            value = int(raw)
        except ValueError:
            raise pytest.UsageError(f"dssl_seed = {raw!r} is out of range: need an integer >= 0") from None
    if value < 0:
        raise pytest.UsageError(f"dssl_seed = {value!r} is out of range: need an integer >= 0")
    return value


@pytest.fixture(scope="session")
def dssl_seed(pytestconfig) -> int:
    """The master seed (``--dssl-seed``, ini ``dssl_seed``; default 0)."""
    return _seed(pytestconfig)


@pytest.fixture(scope="session")
def dssl_suite(pytestconfig):
    """The `bounds.Suite` named by ``--dssl-suite`` (ini ``dssl_suite``; default ``smoke``)."""
    from bounds.running.suite import get_suite

    name = pytestconfig.getoption("dssl_suite") or pytestconfig.getini("dssl_suite")
    try:
        return get_suite(name)
    except ValueError as err:
        raise pytest.UsageError(f"--dssl-suite: {err}") from None


@pytest.fixture
def dssl_key(request, dssl_seed):
    """This test's key, from its node id and the master seed (`bounds.testing.key_for`)."""
    from bounds.testing.linear import key_for

    return key_for(request.node.nodeid, dssl_seed)


@pytest.fixture
def dssl_check(request):
    """Assert on a record as the test's ``dssl_claim`` marker (or the call's arguments) states."""
    marker = request.node.get_closest_marker("dssl_claim")
    stated = dict(marker.kwargs) if marker else {}
    if marker and marker.args:
        stated["claim"] = marker.args[0]

    def run(records, claim=None, **given):
        options = {**stated, **({"claim": claim} if claim else {}), **given}
        claim = options.pop("claim", None)
        treat = {k: options.pop(k) for k in _OPTIONS if k in options}
        many = isinstance(records, (list, tuple))
        if claim is None and many:
            raise ValueError("dssl_check: records given without a claim (pass claim= or mark the test dssl_claim)")
        record = select(records, claim, **options) if many else records
        stated_claim = claim or record.claim
        if record.claim != stated_claim or any(record.reading.get(k) != v for k, v in options.items()):
            raise AssertionError(f"the test states {stated_claim} at {options}, the record is {record.claim} at "
                                 f"{dict(record.reading)}")
        request.node.user_properties.append((PROPERTY, json.dumps(record.to_json())))
        return check(record, rule=treat.get("rule"), inconclusive=treat.get("inconclusive", "fail"),
                     vacuous=treat.get("vacuous", "fail"))

    return run


class Verdicts:
    """Collects the records the tests checked (from the call reports, so pytest-xdist workers'
    records reach the controller) and prints them at the end of the run."""

    def __init__(self):
        self.checked: list[tuple[str, dict]] = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.checked += [(report.nodeid, json.loads(value)) for name, value in report.user_properties
                             if name == PROPERTY]

    def pytest_terminal_summary(self, terminalreporter):
        if not self.checked:
            return
        from bounds.judging.records import Record
        from bounds.running.report import matrix_text

        checked = sorted(self.checked, key=lambda item: item[0])  # test order, whichever xdist worker ran it
        records = [Record.from_json(row) for _, row in checked]
        write = terminalreporter.write_line
        terminalreporter.write_sep("=", f"dssl-bounds: {len(records)} claim x reading verdicts")
        for line in matrix_text(records).splitlines():
            write(line)
        write("")
        width = max(len(r.verdict) for r in records)
        for (nodeid, _), r in zip(checked, records):
            reading = ", ".join(f"{k}={v}" for k, v in r.reading.items())
            write(f"{r.verdict:<{width}}  {r.claim} [{reading}]  {nodeid}")
