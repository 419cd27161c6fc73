"""Signals of the crawler's Scrapy project."""

# Sent with url= and reason= when a URL is refused (scheme, address, robots.txt).
url_refused = object()
