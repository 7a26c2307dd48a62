"""One process of the refresh test: make the organisation's CC client, say "ready", wait for "g" on
stdin, then list the account's lists with it (its token has expired, so it refreshes first).

argv: the site's settings as JSON, the organisation id. Prints how many lists it got.
"""
import json
import sys

from eo_cc.cc import tokens
from eo_cc.db import connect


def main(settings, organisation_id):
    config = json.loads(settings)
    db = connect(config["DATABASE"])
    try:
        client = tokens.make_client(db, config, int(organisation_id))
        print("ready", flush=True)
        sys.stdin.read(1)  # the barrier: every process refreshes at the same moment
        print(len(list(client.contact_lists())), flush=True)
    finally:
        db.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
