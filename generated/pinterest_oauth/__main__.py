"""`python -m pinterest_oauth`: the `pinterest-oauth` command line (see `pinterest_oauth.lib.cli`)."""

from pinterest_oauth.lib.cli import run

if __name__ == "__main__":
    run()
