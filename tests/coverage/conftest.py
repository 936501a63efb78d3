"""The sample project under ``sample/`` is copied and run by the tests here, never collected directly."""

collect_ignore = ["sample"]
