"""Griffe extension for the docs site: the package's reST roles as Markdown cross-references.

The docstrings name other objects the Sphinx way (:class:`~cognito_signout.Client`,
:meth:`aclose`), which Markdown would print as is. This rewrites each role, in memory and only
for the site, into a link to the object's page when the object is part of the documented
public API (reached through a name that cognito_signout, .errors, .testing, .fastapi or
.emulator exports), and into plain inline code otherwise (private helpers, names outside the
package). The package's files are not touched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|mod|data|attr|exc|obj):`(~?)([^`]+)`")
_PUBLIC_MODULES = (
    "cognito_signout",
    "cognito_signout.errors",
    "cognito_signout.testing",
    "cognito_signout.fastapi",
    "cognito_signout.emulator",
)


class RstRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "cognito_signout":
            return
        collection = loader.modules_collection
        public: dict[str, str] = {}  # canonical path -> the path the reference pages show
        for module_path in _PUBLIC_MODULES:
            try:
                module = collection[module_path]
            except KeyError:
                continue
            public.setdefault(module_path, module_path)
            exported = module.exports or []
            for name in exported:
                if not isinstance(name, str) or name not in module.members:
                    continue
                member = module.members[name]
                target = member.target_path if member.is_alias else member.path
                public.setdefault(target, f"{module_path}.{name}")

        def exists(path: str) -> bool:
            try:
                collection[path]
            except (KeyError, ValueError, griffe.AliasResolutionError):
                return False
            return True

        def public_path(canonical: str) -> str | None:
            parts = canonical.split(".")
            for cut in range(len(parts), 0, -1):
                head = ".".join(parts[:cut])
                if head in public:
                    rest = parts[cut:]
                    if any(part.startswith("_") for part in rest) or not exists(canonical):
                        return None
                    return ".".join([public[head], *rest])
            return None

        def resolve(obj: griffe.Object, target: str) -> str | None:
            candidates = []
            first, _, rest = target.partition(".")
            try:
                base = obj.resolve(first)
            except Exception:  # noqa: BLE001 - an unresolvable name is just not linked
                base = None
            if base:
                candidates.append(f"{base}.{rest}" if rest else base)
            candidates += [target, f"cognito_signout.{target}"]
            for candidate in candidates:
                found = public_path(candidate)
                if found:
                    return found
            return None

        def rewrite(obj: griffe.Object) -> None:
            docstring = obj.docstring
            if docstring is not None and ":" in docstring.value:

                def replace(match: re.Match[str]) -> str:
                    short, target = match.group(1), match.group(2)
                    title = target.rsplit(".", 1)[-1] if short else target
                    link = resolve(obj, target)
                    return f"[`{title}`][{link}]" if link else f"`{title}`"

                docstring.value = _ROLE.sub(replace, docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    rewrite(member)  # type: ignore[arg-type]

        rewrite(pkg)
