"""Alias moves of the :class:`~workbench.registry.Registry`: set, roll back, archive.

Each is one write transaction of the store that also appends to the audit log and bumps the
generation counter. ``set_alias`` pushes the alias's old target on ``alias_stack``;
``rollback`` pops it, so repeated rollbacks walk back through every earlier target.
"""
from __future__ import annotations

import json
import time

from .errors import (
    AliasInUseError,
    AliasNotFoundError,
    ArchivedVersionError,
    NothingToRollBackError,
    check_name,
    check_version,
)
from .records import ModelVersion


class AliasOps:
    """Alias moves of :class:`~workbench.registry.Registry` over its store tables (no SQL here):
    needs ``self._tables``, ``self.author``, ``_version_row``, ``_model_exists``."""

    def set_alias(self, name, alias, version) -> ModelVersion:
        """Point ``alias`` (e.g. ``"production"``) of model ``name`` at ``version``.

        The previous target is remembered, so :meth:`rollback` can return to it. ``version`` may
        also be a dict ``{version: weight}``: a weighted canary split (see :meth:`set_split`).
        """
        if isinstance(version, dict):
            self.set_split(name, alias, version)
            return self.get_version(name, alias=alias)
        check_name(name)
        check_name(alias, "alias name")
        version = check_version(version)
        with self._tables.write() as tx:
            self._check_target(tx, name, alias, version)
            self._move(tx, name, alias, version, None, "aliased")
        return self.get_version(name, version)

    def _check_target(self, tx, name, alias, version):
        row = self._version_row(tx, name, version)
        if row["archived"]:
            raise ArchivedVersionError(f"cannot point alias {alias!r} at {name} v{version}: "
                                       "that version is archived")

    def _move(self, tx, name, alias, version, split, action, detail=None) -> bool:
        """Point the alias at ``version`` (and ``split`` JSON or None), remembering where it
        pointed; audit and bump the generation. Return whether anything changed."""
        row = tx.alias_row(name, alias)
        current = None if row is None else (int(row["version"]), row["split"])
        if current == (version, split):
            return False
        if current is not None:
            tx.push_alias_stack(name, alias, current[0], current[1])
        tx.put_alias(name, alias, version, split)
        tx.add_audit(name=name, action=action, author=self.author, at=time.time(),
                     version=version, alias=alias, previous=None if current is None else current[0],
                     detail=detail)
        tx.bump_generation()
        return True

    def rollback(self, name, alias) -> int:
        """Move ``alias`` back to where it pointed before its last change; return that version.

        Repeatable: each call goes one step further back.
        """
        check_name(name)
        check_name(alias, "alias name")
        with self._tables.write() as tx:
            self._model_exists(tx, name)
            current = self._alias_target(tx, name, alias)
            if current is None:
                raise AliasNotFoundError(self._no_alias_message(tx, name, alias))
            # earlier targets that were archived since are passed over (and dropped from the
            # stack), so archiving an old version never blocks rolling back past it
            skipped = []
            while True:
                top = tx.top_of_alias_stack(name, alias)
                if top is None:
                    after = f"; archived earlier targets passed over: {skipped}" if skipped else ""
                    raise NothingToRollBackError(
                        f"alias {alias!r} of {name!r} has no earlier target to roll back to "
                        f"(it points at v{current}; no earlier change of it is left to undo{after})")
                targets = {int(top["version"])} | {int(v) for v in json.loads(top["split"] or "{}")}
                if not any(self._version_row(tx, name, v)["archived"] for v in targets):
                    break
                skipped.append(int(top["version"]))
                tx.drop_alias_stack_entry(top["id"])
            target = int(top["version"])
            tx.drop_alias_stack_entry(top["id"])
            tx.put_alias(name, alias, target, top["split"])
            detail = {"weights": json.loads(top["split"])} if top["split"] else {}
            if skipped:
                detail["skipped_archived"] = skipped
            detail = detail or None
            tx.add_audit(name=name, action="rolled back", author=self.author, at=time.time(),
                         version=target, alias=alias, previous=current, detail=detail)
            tx.bump_generation()
        return target

    def rollback_target(self, name, alias) -> int | None:
        """The version :meth:`rollback` would move ``alias`` to now, or None; changes nothing."""
        check_name(name)
        check_name(alias, "alias name")
        with self._tables.read() as tx:
            for top in tx.alias_stack(name, alias):
                targets = {int(top["version"])} | {int(v) for v in json.loads(top["split"] or "{}")}
                if not any(self._version_row(tx, name, v)["archived"] for v in targets):
                    return int(top["version"])
        return None

    def archive(self, name, version) -> None:
        """Hide ``version`` from "latest" (it stays loadable by number); refused while aliased."""
        check_name(name)
        version = check_version(version)
        with self._tables.write() as tx:
            row = self._version_row(tx, name, version)
            held = [r["alias"] for r in tx.alias_rows(name) if version in _targets(r)]
            if held:
                raise AliasInUseError(
                    f"cannot archive {name} v{version}: alias(es) {', '.join(held)} point at it; "
                    "move them to another version first")
            if row["archived"]:
                return
            tx.archive_version(name, version)
            tx.add_audit(name=name, action="archived", author=self.author, at=time.time(),
                         version=version)
            tx.bump_generation()

    @staticmethod
    def _alias_target(tx, name, alias):
        row = tx.alias_row(name, alias)
        return None if row is None else int(row["version"])

    @staticmethod
    def _no_alias_message(tx, name, alias) -> str:
        have = [r["alias"] for r in tx.alias_rows(name)]
        return (f"model {name!r} has no alias {alias!r}; "
                + (f"its aliases are: {', '.join(have)}" if have else "it has no aliases yet"))


def _targets(row) -> set:
    """Every version an ``aliases`` row sends traffic to (primary, split, shadow)."""
    found = {int(row["version"])}
    if row["split"]:
        found |= {int(v) for v in json.loads(row["split"])}
    if row["shadow"] is not None:
        found.add(int(row["shadow"]))
    return found
