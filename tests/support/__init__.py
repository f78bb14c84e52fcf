"""Helpers shared by the test suites: free ports, real servers started as processes, throwaway databases."""
