"""Suite-wide pytest hooks.

The suite runs in a random order (pytest-randomly, a test extra) so that a test relying on what an
earlier test or an earlier run left behind shows up; the seed is printed at the end of every run,
also under `-q` (which hides pytest-randomly's own header line), so a failing order can be rerun.
"""


def pytest_terminal_summary(terminalreporter, config):
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"test order: random, seed {seed} "
                                    f"(rerun this order with --randomly-seed={seed})")
    else:
        terminalreporter.write_line("test order: file order (pytest-randomly is not active)")
