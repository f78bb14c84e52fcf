"""Helpers shared by the test suites: free ports, real servers as processes, throwaway databases."""
