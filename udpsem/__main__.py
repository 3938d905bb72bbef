"""`python -m udpsem` runs the command line."""

from udpsem.cli import main

main()
