"""The one place the README's configuration table is made, from the settings classes."""

from __future__ import annotations

from pydantic_settings import BaseSettings

__all__ = ["config_table", "settings_classes"]


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    from services.ingest.settings import IngestSettings
    from services.matcher.settings import MatcherSettings
    from services.notifier.settings import NotifierSettings
    from signpost.settings import CommonSettings

    return [("all", CommonSettings), ("ingest", IngestSettings),
            ("matcher", MatcherSettings), ("notifier", NotifierSettings)]


def _default(field: object) -> str:
    from pydantic.fields import FieldInfo

    assert isinstance(field, FieldInfo)
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if hasattr(value, "get_secret_value"):
        return "(secret; required in production)"
    return f"`{value}`" if value not in (None, "") else "(none)"


def config_table() -> str:
    """A markdown table: variable, used by, default, meaning."""
    rows = ["| variable | used by | default | meaning |", "| --- | --- | --- | --- |"]
    seen: set[str] = set()
    for service, cls in settings_classes():
        for name, field in cls.model_fields.items():
            if name in seen:
                continue
            seen.add(name)
            desc = (field.description or "").replace("|", "\\|")
            rows.append(f"| `SIGNPOST_{name.upper()}` | {service} | {_default(field)} | {desc} |")
    return "\n".join(rows) + "\n"
