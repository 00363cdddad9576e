"""CI integrations: the script behind the GitHub Action (action.yml)."""
