"""The web shell: templating, request dependencies, errors and middleware."""
