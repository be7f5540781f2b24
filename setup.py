"""Ship the top-level schemas/ inside the wheel, as aios_policy/schemas/.

The schemas live at the top of the repository so that editors can reach them with a relative
"$schema"; the installed package needs its own copy to validate with.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSchemas(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "aios_policy" / "schemas"
        target.mkdir(parents=True, exist_ok=True)
        for schema in sorted(Path(__file__).parent.joinpath("schemas").glob("*.schema.json")):
            shutil.copy2(schema, target / schema.name)


setup(cmdclass={"build_py": BuildWithSchemas})
