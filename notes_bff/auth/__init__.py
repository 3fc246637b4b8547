"""Authentication: tokens, passwords, cookies, refresh sessions."""
