"""The rules service (one service, three faces: CLI, rules file, REST); see `service`."""

from ledgerbridge.operations.rules.service import (
    ChangeSource,
    RuleChange,
    RuleNotFoundError,
    RulesError,
    RulesService,
)

__all__ = ["ChangeSource", "RuleChange", "RuleNotFoundError", "RulesError", "RulesService"]
