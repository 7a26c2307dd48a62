#!/usr/bin/env python3
"""The hourly cron entry: remove voters who voted from each election's Constant Contact list.

Same as `flask --app eo_cc cc-sync`, run with the Python that eo_cc is installed in. Exit 0
when everything due was done, 1 when some removals failed and remain queued, 2 on a
configuration error. Set EO_CC_INSTANCE_PATH so cron and the site share the instance folder
(database, secrets, lock file).
"""
import argparse
import sys

from eo_cc import create_app
from eo_cc.cc.sync import run_sync
from eo_cc.db import connect
from eo_cc.migrations import migrate


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--election", type=int, help="sync only this election id")
    parser.add_argument("--dry-run", action="store_true", help="resolve and report, remove nobody")
    parser.add_argument("--verbose", action="store_true", help="print every activity poll and retry")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    app = create_app()
    db = connect(app.config["DATABASE"])
    try:
        migrate(db)
        result = run_sync(db, app.config, election_id=args.election, dry_run=args.dry_run,
                          verbose=args.verbose, echo=print)
    finally:
        db.close()
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
