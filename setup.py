"""Build glue that pyproject.toml cannot express: the cffi extension and the grammar files.

``cffi_modules`` compiles ``csrc/`` into ``rmqcore.store._native`` (cffi API mode);
``ext_modules`` builds ``rmqcore.message._stored_decode`` (``csrc/stored_decode.c``) and
``rmqcore.remoting._json_header`` (``csrc/json_header.c``) on the CPython API: they make the
Python objects of decoded messages and headers, which cffi cannot. ``rmqcore.store._batch_gather``
(``csrc/batch_gather.c``) reads a put_batch's Message objects for the cffi put.
``build_py`` copies ``grammar/*.lark`` into the package (``rmqcore/_grammar``) so an
installed wheel finds the SQL92 grammar without the source tree.
"""

from pathlib import Path
import shutil

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent


class BuildPyWithGrammar(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "rmqcore" / "_grammar"
        target.mkdir(parents=True, exist_ok=True)
        for lark_file in sorted((HERE / "grammar").glob("*.lark")):
            shutil.copy2(lark_file, target / lark_file.name)


setup(
    cffi_modules=["csrc/build_native.py:ffibuilder"],
    ext_modules=[
        Extension(
            "rmqcore.message._stored_decode",
            ["csrc/stored_decode.c"],
            depends=["csrc/py_objects.h"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "rmqcore.store._batch_gather",
            ["csrc/batch_gather.c"],
            depends=["csrc/py_objects.h", "csrc/body_ref.h"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
        Extension(
            "rmqcore.remoting._json_header",
            ["csrc/json_header.c"],
            depends=["csrc/py_objects.h"],
            extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        ),
    ],
    cmdclass={"build_py": BuildPyWithGrammar},
)
