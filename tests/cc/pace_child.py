"""One process of the shared-pace test: wait for "go" on stdin, then make N paced CC calls.

argv: API base URL, access token, pace file, rate per second, number of calls.
Prints how many calls succeeded.
"""
import sys

import requests

from eo_cc.cc.api import Client
from eo_cc.cc.pace import SharedPace


def main(base_url, token, pace_path, rate, calls):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    client = Client(session, base_url, pacer=SharedPace(pace_path, float(rate)))
    sys.stdin.read(1)  # the barrier: every process starts its calls at the same moment
    done = 0
    for _ in range(int(calls)):
        list(client.contact_lists())
        done += 1
    print(done)


if __name__ == "__main__":
    main(*sys.argv[1:])
