"""The ids the simulator hands out: 19-digit numbers like Coze's chat, conversation, file and
execute ids, drawn from an RNG seeded by the simulator's seed, so a seed reproduces its ids.
A leaf module: the services take ids from `sim.new_id` and import nothing back from service.py."""
import random
import threading

FIRST_ID = 7400000000000000000
ID_SPREAD = 10 ** 17


class IdSource(object):
    """new_id() -> a fresh id as text. Its own RNG, apart from the fault RNG, so asking for ids
    never changes which faults a seed plays; ids never repeat within one simulator."""

    def __init__(self, seed=0):
        self._rng = random.Random("ids/%s" % (seed,))
        self._lock = threading.Lock()
        self._issued = set()

    def new_id(self):
        with self._lock:
            while True:
                value = str(FIRST_ID + self._rng.randint(0, ID_SPREAD))
                if value not in self._issued:
                    self._issued.add(value)
                    return value
