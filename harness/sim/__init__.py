"""Deterministic simulation of a MajorityRedis cluster: one process, virtual time, one seed."""
