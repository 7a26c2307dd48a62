"""The voter roster: its pages (views) and the Flask-free CSV parsing and import (voters)."""
