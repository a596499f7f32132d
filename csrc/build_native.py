"""cffi (API mode) build of the store's C hot path into ``rmqcore.store._native``.

Every ``csrc/*.c`` is compiled into one extension; ``native.cdef`` declares what
Python may call; ``native.h`` includes each concept's header.
"""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
# setuptools runs from the project root; relative paths keep sdists relocatable.
_REL = Path("csrc")
_SRC_DIR = _REL if _REL.is_dir() else HERE

ffibuilder = FFI()
ffibuilder.cdef((HERE / "native.cdef").read_text())
ffibuilder.set_source(
    "rmqcore.store._native",
    '#include "native.h"',
    sources=[str(_SRC_DIR / p.name) for p in sorted(HERE.glob("*.c"))],
    include_dirs=[str(_SRC_DIR)],
    extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
