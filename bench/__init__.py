"""Benchmarks: each script starts what it measures through devstack and writes JSON."""
