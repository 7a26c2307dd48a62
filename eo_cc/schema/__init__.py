"""The schema's history, one module per concept; migrations.py applies it in order."""
