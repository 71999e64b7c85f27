"""What students run: the self-check engine and the notebook's test cells."""
