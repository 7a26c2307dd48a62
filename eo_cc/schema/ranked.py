"""Ranked questions (instant-runoff, STV) and weighted votes."""


def m150_ranked_and_weighted(db):
    """Questions gain a kind and seats; voters and ballots a weight; selections a rank.

    A ballot's weight is copied from its voter when it is cast: the count needs it, and it is
    the only thing a ballot carries from its voter. When few voters share a weight it singles
    out their ballots, which is why the roster import and the results page warn about weights
    held by fewer than 5 voters. Live snapshots keep ranked ballots as counts per ranking.
    """
    db.executescript("""
    ALTER TABLE questions ADD COLUMN kind TEXT NOT NULL DEFAULT 'plurality'
        CHECK (kind IN ('plurality', 'ranked'));
    ALTER TABLE questions ADD COLUMN seats INTEGER NOT NULL DEFAULT 1 CHECK (seats >= 1);
    ALTER TABLE voters ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0);
    ALTER TABLE ballots ADD COLUMN weight REAL NOT NULL DEFAULT 1 CHECK (weight > 0);
    ALTER TABLE ballot_selections ADD COLUMN rank INTEGER CHECK (rank IS NULL OR rank >= 1);
    ALTER TABLE result_snapshots ADD COLUMN rankings TEXT NOT NULL DEFAULT '{}';
    """)


STEPS = [m150_ranked_and_weighted]
