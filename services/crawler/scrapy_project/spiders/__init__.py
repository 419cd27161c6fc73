"""Spiders of the crawler's Scrapy project (one: `essay`)."""
