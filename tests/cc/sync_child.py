#!/usr/bin/env python3
"""Run scripts/cc_sync.py in this process, with a short Constant Contact client timeout.

The fault-injection tests start this as a real subprocess (so they can kill -9 it).
EO_CC_TEST_CC_TIMEOUT (seconds) shortens the client's connect and read timeouts, so a
sandbox "slow" fault lasts longer than the client waits, as a hung CC server would.
Arguments are passed on to scripts/cc_sync.py; the exit code is its exit code.
"""
import os
import runpy
import sys
from pathlib import Path

from eo_cc.cc import tokens

ROOT = Path(__file__).resolve().parents[2]

if os.environ.get("EO_CC_TEST_CC_TIMEOUT"):
    seconds = float(os.environ["EO_CC_TEST_CC_TIMEOUT"])
    tokens.TIMEOUT = (seconds, seconds)

script = str(ROOT / "scripts" / "cc_sync.py")
sys.argv = [script, *sys.argv[1:]]
runpy.run_path(script, run_name="__main__")
