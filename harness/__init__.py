"""A Jepsen-style workbench for majorityredis: cluster, faults, workloads, history, checkers, reports.

Roles never mix: checkers never touch Redis, workloads never touch processes,
the nemesis never reads the history (see docs/design.md).
"""
