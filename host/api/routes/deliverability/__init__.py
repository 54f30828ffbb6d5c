"""Deliverability routes: the e-mail providers' signed bounce and complaint webhooks, and suppressions."""
