"""One module per CLI command: plain functions that return results for cli.py to print."""
