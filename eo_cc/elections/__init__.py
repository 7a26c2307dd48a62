"""Elections: the admin's pages (views), ballot questions, results, counting and the audit log."""
