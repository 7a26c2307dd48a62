from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: scripts/, crontab.example, instance/
