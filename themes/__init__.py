"""The built-in themes, packaged as deckgen.themes (their TOML files are data)."""
