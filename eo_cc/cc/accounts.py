"""Which Constant Contact account a connection is, and chosen lists that are not in it.

Flask-free. When access is granted eo_cc asks CC which account it was (GET /account/summary, one
request per grant) and keeps it on the connection row, so pages name it without asking again. A
grant for another account than the one an election's list was chosen in leaves that list behind:
one GET /contact_lists tells which chosen lists the new account has, and the others are marked
(`elections.cc_list_problem`). No removal or mailing goes to a marked election's list until a list
is chosen again (or access to the old account is granted again); its queue is kept.
"""
from .. import clock
from ..db import one, rows
from .resolve import remember_list_sizes

WRONG_ACCOUNT = "wrong_account"
DELETED = "deleted"            # a list deleted in CC: the same mark, another reason
NOT_CONNECTED_HERE = "the Constant Contact account it was chosen in"


def account_label(name, email):
    """"<organisation name> (<account email>)", or whichever of the two is known."""
    if name and email:
        return f"{name} ({email})"
    return name or email or None


def connection_label(connection):
    """How a connection reads on every page: "Connected to <org> (<email>)", or "Connected" while
    the account is not known (connections made before eo_cc asked)."""
    known = connection and account_label(connection["account_name"], connection.get("account_email"))
    return f"Connected to {known}" if known else "Connected"


def problem_message(election):
    """What Integration Settings says about a marked list, or None."""
    name = election["cc_list_name"] or "chosen for this election"
    if election["cc_list_problem"] == WRONG_ACCOUNT:
        old = election["cc_list_account_name"] or NOT_CONNECTED_HERE
        return (f"The list {name} is not in the Constant Contact account now connected: "
                f"Select a List again or grant access to {old}.")
    if election["cc_list_problem"] == DELETED:
        return f"The list {name} no longer exists in Constant Contact: Select a List again."
    return None


def learn(db, client, call, organisation_id):
    """Ask CC which account the connection is and keep it; returns the connection's new values."""
    summary = call(client.account_summary)
    account = {"account_id": summary.get("encoded_account_id"),
               "account_name": summary.get("organization_name"),
               "account_email": summary.get("contact_email")}
    _set_account(db, organisation_id, account)
    return account


def forget(db, organisation_id):
    """The newly granted account could not be asked for: show "Connected" rather than the name of
    an account that may not be the one granted (the sync asks again)."""
    _set_account(db, organisation_id, None)


def _set_account(db, organisation_id, account):
    """Replace the connection's account (None: unknown). Lists chosen before eo_cc kept each
    list's account are in the account connected until now, which is written on them first."""
    old = one(db, "SELECT account_id, account_name, account_email FROM cc_connections "
                  "WHERE organisation_id = ?", [organisation_id])
    account = account or {}
    with db.atomic():
        if old and old["account_id"]:
            db.execute("UPDATE elections SET cc_list_account_id = ?, cc_list_account_name = ? "
                       "WHERE organisation_id = ? AND cc_list_id IS NOT NULL AND cc_list_account_id IS NULL",
                       [old["account_id"], account_label(old["account_name"], old["account_email"]),
                        organisation_id])
        db.execute("UPDATE cc_connections SET account_id = ?, account_name = ?, account_email = ?, "
                   "account_checked_at = ? WHERE organisation_id = ?",
                   [account.get("account_id"), account.get("account_name"), account.get("account_email"),
                    clock.iso() if account else None, organisation_id])


def unchecked(db, organisation_id, account_id):
    """Elections whose chosen list is not known to be in the connected account (a marked one stays
    marked until a list is chosen again or its account is granted again, unless its account is
    not known)."""
    return rows(db, f"""SELECT id, cc_list_id, cc_list_problem FROM elections
                        WHERE organisation_id = ? AND cc_list_id IS NOT NULL AND cc_list_id != ''
                          AND (cc_list_account_id IS NULL OR cc_list_account_id != ?)
                          AND (cc_list_problem IS NULL
                               OR cc_list_problem = '{WRONG_ACCOUNT}' AND cc_list_account_id IS NULL)""",
                [organisation_id, account_id])


def check_lists(db, client, call, organisation_id):
    """Mark the elections whose chosen list the connected account lacks (one GET /contact_lists,
    only when some list's account is not the connected one); returns the ids marked now."""
    connection = one(db, "SELECT account_id, account_name, account_email FROM cc_connections "
                         "WHERE organisation_id = ?", [organisation_id])
    if connection is None or not connection["account_id"]:
        return []
    account_id = connection["account_id"]
    db.execute(f"UPDATE elections SET cc_list_problem = NULL, cc_list_problem_at = NULL "
               f"WHERE organisation_id = ? AND cc_list_problem = '{WRONG_ACCOUNT}' "
               "AND cc_list_account_id = ?", [organisation_id, account_id])  # the old account is back
    elections = unchecked(db, organisation_id, account_id)
    if not elections:
        return []
    lists = call(lambda: list(client.contact_lists()))
    remember_list_sizes(db, lists)
    present = {item.get("list_id") for item in lists}
    label = account_label(connection["account_name"], connection["account_email"])
    marked, now = [], clock.iso()
    with db.atomic():
        for election in elections:
            if election["cc_list_id"] in present:
                db.execute("UPDATE elections SET cc_list_account_id = ?, cc_list_account_name = ?, "
                           "cc_list_problem = NULL, cc_list_problem_at = NULL WHERE id = ?",
                           [account_id, label, election["id"]])
            elif election["cc_list_problem"] is None:
                db.execute(f"UPDATE elections SET cc_list_problem = '{WRONG_ACCOUNT}', "
                           "cc_list_problem_at = ? WHERE id = ?", [now, election["id"]])
                marked.append(election["id"])
    return marked


def check_before_sync(db, client, call, organisation_id):
    """What a grant could not finish: ask which account it is (when the grant's scope allows it and
    eo_cc does not know), then check the chosen lists against it."""
    connection = one(db, "SELECT account_id, scope FROM cc_connections WHERE organisation_id = ?",
                     [organisation_id])
    if connection and not connection["account_id"] and "account_read" in (connection["scope"] or "").split():
        learn(db, client, call, organisation_id)
    check_lists(db, client, call, organisation_id)


def is_list_gone(error):
    """True when CC answered that the list asked about does not exist (deleted, or never there)."""
    return error.status == 404 and "list" in (error.error_key or "").lower()


def mark_deleted(db, organisation_id, list_id):
    """Mark the organisation's elections on a list CC says does not exist; returns the ids marked.

    Their queues are kept, and nothing is sent to the list until another one is chosen.
    """
    ids = [row["id"] for row in rows(db, "SELECT id FROM elections WHERE organisation_id = ? AND "
                                         "cc_list_id = ? AND cc_list_problem IS NULL",
                                     [organisation_id, list_id])]
    with db.atomic():
        db.conn.executemany(f"UPDATE elections SET cc_list_problem = '{DELETED}', cc_list_problem_at = ? "
                            "WHERE id = ?", [(clock.iso(), election_id) for election_id in ids])
    return ids


def lists_read(db, organisation_id, contact_lists):
    """What every list the connected account has (read anyway, for the list picker) tells: member
    counts, each chosen list's current name, and chosen lists of this account that are gone."""
    remember_list_sizes(db, contact_lists)
    names = {item["list_id"]: item["name"] for item in contact_lists if item.get("name")}
    connection = one(db, "SELECT account_id FROM cc_connections WHERE organisation_id = ?", [organisation_id])
    chosen = rows(db, "SELECT DISTINCT cc_list_id, cc_list_name FROM elections WHERE organisation_id = ? "
                      "AND cc_list_id IS NOT NULL AND cc_list_problem IS NULL AND cc_list_account_id IS ?",
                  [organisation_id, connection and connection["account_id"]])
    renamed = [(names[row["cc_list_id"]], organisation_id, row["cc_list_id"]) for row in chosen
               if row["cc_list_id"] in names and names[row["cc_list_id"]] != row["cc_list_name"]]
    with db.atomic():
        db.conn.executemany("UPDATE elections SET cc_list_name = ? WHERE organisation_id = ? AND cc_list_id = ?",
                            renamed)
    gone = {row["cc_list_id"] for row in chosen} - {item.get("list_id") for item in contact_lists}
    return [election_id for list_id in sorted(gone) for election_id in mark_deleted(db, organisation_id, list_id)]


def election_problem(db, election_id):
    """The problem message of an election's chosen list, or None."""
    return problem_message(one(db, "SELECT cc_list_name, cc_list_problem, cc_list_account_name "
                                   "FROM elections WHERE id = ?", [election_id]))


def list_chosen(connection):
    """The columns that record which account a list chosen now is in (and clear any mark)."""
    return {"cc_list_account_id": connection["account_id"] if connection else None,
            "cc_list_account_name": account_label(connection["account_name"], connection["account_email"])
            if connection else None,
            "cc_list_problem": None, "cc_list_problem_at": None}
