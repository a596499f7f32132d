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

# C calls that never block (no msync, no waiting on another thread) keep the GIL. cffi
# releases the GIL around every call; on a put that is two thread-state switches, and
# with many writer threads each release hands the GIL to another thread that then
# blocks on the store lock this one still holds -- a convoy that capped 64 threads at
# ~25 us a put even without SYNC_FLUSH. These calls copy at most a batch or a read
# (microseconds; a roll onto a new file, rare, takes about a millisecond), so holding
# the GIL through them costs other threads less than the switches did. msync, the
# group-commit wait, the warm-up wait, recovery and index queries still release it.
KEEP_GIL = (
    "rmq_put_simple",
    "rmq_put_ext",
    "rmq_put_batch",
    "rmq_put_batch_encoded",
    "rmq_put_encoded",
    "rmq_now_ms",
    "rmq_get",
    "rmq_record_size",
    "rmq_record_ptr",
    "rmq_mfq_min_offset",
    "rmq_mfq_end_offset",
)
_GIL_PREAMBLE = (
    "#include <string.h>\n"
    "static inline int rmq_keeps_gil(const char *wrapper) {\n"
    + "".join(f'    if (strcmp(wrapper, "_cffi_f_{name}") == 0) return 1;\n' for name in KEEP_GIL)
    + "    return 0;\n}\n"
    # cffi wraps each call in these two macros; the wrapper's __func__ names the function
    "#undef Py_BEGIN_ALLOW_THREADS\n"
    "#define Py_BEGIN_ALLOW_THREADS { PyThreadState *_save = rmq_keeps_gil(__func__) ? NULL : PyEval_SaveThread();\n"
    "#undef Py_END_ALLOW_THREADS\n"
    "#define Py_END_ALLOW_THREADS if (_save) PyEval_RestoreThread(_save); }\n"
)

# The CPython-API extensions, source -> module: setup.py builds each as its own module
# (``ext_modules``); they are not part of the cffi store library.
CPYTHON_API_MODULES = {
    "stored_decode.c": "rmqcore.message._stored_decode",
    "json_header.c": "rmqcore.remoting._json_header",
    "batch_gather.c": "rmqcore.store._batch_gather",
    "put_path.c": "rmqcore.store._put_path",
}
COMPILE_ARGS = ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

ffibuilder = FFI()
ffibuilder.cdef((HERE / "native.cdef").read_text())
ffibuilder.set_source(
    "rmqcore.store._native",
    '#include "native.h"\n' + _GIL_PREAMBLE,
    sources=[str(_SRC_DIR / p.name) for p in sorted(HERE.glob("*.c")) if p.name not in CPYTHON_API_MODULES],
    include_dirs=[str(_SRC_DIR)],
    extra_compile_args=COMPILE_ARGS,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
