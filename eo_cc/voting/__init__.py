"""The voters' side: sign-in and ballot pages (views), the ballot box (ballots), mail to voters (notices)."""
