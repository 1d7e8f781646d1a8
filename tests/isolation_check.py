"""Run inside a fresh venv holding one built wheel: import every module it ships.

Usage: python isolation_check.py IMPORT_NAME '["forbidden", "modules"]'
Fails if a module cannot be imported, or if importing the package pulled in a library the
package must not depend on. Modules that need an optional test dependency (pytest) are
allowed to be missing it.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

OPTIONAL = {"pytest"}


def main() -> int:
    name = sys.argv[1]
    forbidden = json.loads(sys.argv[2])
    package = importlib.import_module(name)
    problems: list[str] = []
    imported = 0
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
        try:
            importlib.import_module(info.name)
            imported += 1
        except ModuleNotFoundError as exc:
            if exc.name not in OPTIONAL:
                problems.append(f"{info.name}: {exc}")
    leaked = sorted(m for m in forbidden if m in sys.modules)
    if leaked:
        problems.append(f"importing {name} pulled in {', '.join(leaked)}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    version = getattr(package, "__version__", "?")
    print(f"{name} {version}: {imported + 1} modules import cleanly in isolation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
