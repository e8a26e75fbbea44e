"""Decision stage: policy thresholds, customs declarations and the verdict deadline."""

from screening.decide.config import DecideConfig, load_config, load_policy
from screening.decide.deadline import DEFAULT_BUDGET_S, Deadline, tail_out_time
from screening.decide.declarations import Declaration, declaration_for, load_declarations
from screening.decide.policy import CurrencyRule, CustomsConfig, Policy, decide

__all__ = [
    "DEFAULT_BUDGET_S",
    "CurrencyRule",
    "CustomsConfig",
    "Deadline",
    "DecideConfig",
    "Declaration",
    "Policy",
    "decide",
    "declaration_for",
    "load_config",
    "load_declarations",
    "load_policy",
    "tail_out_time",
]
