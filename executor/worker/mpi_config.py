"""The environment variable that carries an MPI worker's configuration (kept in a module of its own so the
worker does not import the parent-side spawner)."""

CONFIG_VARIABLE = "XLIB_WORKER_CONFIG"  # the worker removes it from its environment before running any call
