"""Another program holding a read lease on a note: run as a separate process by test_write_transactions.

`lease_holder.py PATH`: open PATH read-only, take a read lease on it (F_RDLCK) and print "ready". While the lease is
held, a process that opens the note for writing (as reminder's write-back does) waits in open() until the holder
lets go or the kernel's lease-break-time (45 s by default) runs out: a real slow file write, no hook in reminder.
It prints "asked" as soon as the kernel asks for the lease (SIGIO: a writer waits), and lets go when a line
arrives on stdin (or stdin closes).
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys

# SIGIO is how the kernel tells a holder that someone waits for the lease; its default action would kill us.
signal.signal(signal.SIGIO, lambda signum, frame: print("asked", flush=True))
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
print("ready", flush=True)
sys.stdin.readline()
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
os.close(fd)
