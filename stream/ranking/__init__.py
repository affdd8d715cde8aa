"""Vote book, leaderboard, Swiss pairing, views."""
