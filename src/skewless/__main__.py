"""``python -m skewless`` runs the command line."""

from skewless.cli import main

main()
