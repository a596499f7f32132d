"""Build glue that pyproject.toml cannot express: the cffi extension and the grammar files.

``cffi_modules`` compiles ``csrc/`` into ``rmqcore.store._native`` (cffi API mode);
``ext_modules`` builds the CPython-API extensions that ``csrc/build_native.py`` lists
(``CPYTHON_API_MODULES``): ``rmqcore.message._stored_decode`` and
``rmqcore.remoting._json_header`` make the Python objects of decoded messages and headers,
which cffi cannot; ``rmqcore.store._batch_gather`` reads a put_batch's Message objects for
the cffi put, and ``rmqcore.store._put_path`` runs a single put's common case in one call.
``build_py`` copies ``grammar/*.lark`` into the package (``rmqcore/_grammar``) so an
installed wheel finds the SQL92 grammar without the source tree.
"""

from pathlib import Path
import shutil
import sys

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "csrc"))
from build_native import COMPILE_ARGS, CPYTHON_API_MODULES  # noqa: E402  (one list for both builds)


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
            module,
            [f"csrc/{source}"],
            depends=[f"csrc/{header.name}" for header in sorted((HERE / "csrc").glob("*.h"))],
            extra_compile_args=COMPILE_ARGS,
        )
        for source, module in CPYTHON_API_MODULES.items()
    ],
    cmdclass={"build_py": BuildPyWithGrammar},
)
