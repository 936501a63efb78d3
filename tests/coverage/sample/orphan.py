"""The parent goes away without shutting its executor down: the fork server SIGTERMs the worker."""

import os

from executor import SingleNodeExecutor
from pkg import work

exe = SingleNodeExecutor(max_workers=1, block_allocation=True)
print(exe.submit(work.orphaned).result(), flush=True)
os._exit(0)
